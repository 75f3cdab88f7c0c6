"""Ready-made models that remember how they were built.

Each builder here returns an ``nn.Module`` whose ``_nabla_arch`` attribute records the
builder's name and arguments (plain JSON data). ``nabla.io.save`` stores that record in
the model file, and ``nabla.io.load_model`` calls :func:`build` with it to rebuild the
model: the file names a registered builder, it never carries code.

>>> import nabla
>>> from nabla import models
>>> m = models.mlp(64, hidden=(32,), out_features=10)
>>> arch = m._nabla_arch
>>> arch["builder"], arch["kwargs"]["hidden"], arch["kwargs"]["activation"]
('mlp', [32], 'relu')
>>> m2 = models.build(m._nabla_arch)
>>> m2(nabla.zeros(5, 1, 8, 8)).shape
(5, 10)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from . import nn

_BUILDERS: dict[str, Callable] = {}


def _jsonable(value):
    """Tuples become lists (JSON has no tuples), so a record equals its JSON round trip."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a model builder's arguments must be plain data (numbers, strings, "
                    f"lists, dicts), got {type(value).__name__}")


_SHAPES: dict[str, Callable] = {}


def register(name: str, shapes: Callable | None = None):
    """Register a model builder under ``name``, making its models self-describing.

    The decorated function's bound arguments (defaults included) are recorded on the
    model it returns as ``model._nabla_arch = {"builder": name, "kwargs": {...}}``.
    ``shapes``, given the same arguments, returns the model's state-dict shapes
    (``{name: shape}``) without building it: ``load_model`` then checks a file's
    tensors against the recorded architecture before allocating anything.

    >>> @register("tiny_linear")
    ... def tiny_linear(n: int = 2):
    ...     return nn.Linear(n, 1)
    >>> tiny_linear()._nabla_arch
    {'builder': 'tiny_linear', 'kwargs': {'n': 2}}
    >>> _ = _BUILDERS.pop("tiny_linear")  # keep the registry clean for other examples
    """
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def builder(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            model = fn(*bound.args, **bound.kwargs)
            model._nabla_arch = {"builder": name, "kwargs": _jsonable(dict(bound.arguments))}
            return model

        _BUILDERS[name] = builder
        if shapes is not None:
            _SHAPES[name] = shapes
        return builder

    return decorate


def available() -> list[str]:
    """The names of the registered builders.

    >>> "mlp" in available()
    True
    """
    return sorted(_BUILDERS)


def build(arch: dict):
    """Rebuild a model from its architecture record ``{"builder": ..., "kwargs": ...}``.

    Only registered builders can be named, so a record can do nothing but build one of
    the models defined here.

    >>> build({"builder": "perceptron", "kwargs": {"in_features": 3}})._nabla_arch["builder"]
    'perceptron'
    >>> build({"builder": "os.system", "kwargs": {}})
    Traceback (most recent call last):
    ...
    KeyError: "unknown model builder 'os.system'; known: lenet5, mlp, perceptron, rnn_classifier"
    """
    if not isinstance(arch, dict) or not isinstance(arch.get("builder"), str):
        raise ValueError(f"an architecture record is a dict with a 'builder' name, got {arch!r}")
    name, kwargs = arch["builder"], arch.get("kwargs", {})
    if name not in _BUILDERS:
        raise KeyError(f"unknown model builder {name!r}; known: {', '.join(available())}")
    if not isinstance(kwargs, dict):
        raise ValueError(f"'kwargs' of an architecture record must be a dict, got {kwargs!r}")
    return _BUILDERS[name](**kwargs)


def expected_shapes(arch: dict) -> dict | None:
    """The state-dict shapes the recorded architecture ``arch`` would have, computed
    without allocating the model; None for a builder registered without ``shapes``.
    Raises ``KeyError`` / ``TypeError`` / ``ValueError`` as :func:`build` would.

    >>> expected_shapes({"builder": "perceptron", "kwargs": {"in_features": 3}})
    {'1.weight': (1, 3), '1.bias': (1,)}
    """
    if not isinstance(arch, dict) or not isinstance(arch.get("builder"), str):
        raise ValueError(f"an architecture record is a dict with a 'builder' name, got {arch!r}")
    name, kwargs = arch["builder"], arch.get("kwargs", {})
    if name not in _BUILDERS:
        raise KeyError(f"unknown model builder {name!r}; known: {', '.join(available())}")
    if not isinstance(kwargs, dict):
        raise ValueError(f"'kwargs' of an architecture record must be a dict, got {kwargs!r}")
    fn = _SHAPES.get(name)
    return None if fn is None else fn(**kwargs)


def _linear(shapes: dict, prefix: str, n_in: int, n_out: int) -> None:
    shapes[prefix + "weight"] = (n_out, n_in)
    shapes[prefix + "bias"] = (n_out,)


# ------------------------------------------------------------------------ activations

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation layer by name (see ``ACTIVATIONS``).

    >>> make_activation("tanh")
    Tanh()
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from "
                         f"{', '.join(ACTIVATIONS)}") from None


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


# --------------------------------------------------------------------------- builders

def _mlp_shapes(in_features: int, hidden=(128, 64), out_features: int = 10,
                activation: str = "relu", dropout: float = 0.0) -> dict:
    _positive_int(in_features, "in_features")
    _positive_int(out_features, "out_features")
    if not isinstance(hidden, (list, tuple)):
        raise ValueError(f"hidden must be a list of widths, got {hidden!r}")
    widths = [_positive_int(h, "each hidden width") for h in hidden]
    make_activation(activation)
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    shapes: dict = {}
    index, previous = 1, in_features
    for width in widths:
        _linear(shapes, f"{index}.", previous, width)
        index += 3 if dropout else 2
        previous = width
    _linear(shapes, f"{index}.", previous, out_features)
    return shapes


@register("mlp", shapes=_mlp_shapes)
def mlp(in_features: int, hidden=(128, 64), out_features: int = 10,
        activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """A multilayer perceptron: ``Flatten``, then ``Linear`` + activation (+ dropout)
    for each width in ``hidden``, then a last ``Linear`` to ``out_features`` outputs
    (logits: the loss applies the softmax). Images (N, C, H, W) are flattened first.

    >>> mlp(4, hidden=(8, 8), out_features=3, activation="tanh")
    Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=4, out_features=8, bias=True)
      (2): Tanh()
      (3): Linear(in_features=8, out_features=8, bias=True)
      (4): Tanh()
      (5): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    _positive_int(in_features, "in_features")
    _positive_int(out_features, "out_features")
    widths = [_positive_int(h, "each hidden width") for h in hidden]
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    layers: list[nn.Module] = [nn.Flatten()]
    previous = in_features
    for width in widths:
        layers += [nn.Linear(previous, width), make_activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        previous = width
    layers.append(nn.Linear(previous, out_features))
    return nn.Sequential(*layers)


def _perceptron_shapes(in_features: int, out_features: int = 1) -> dict:
    shapes: dict = {}
    _linear(shapes, "1.", _positive_int(in_features, "in_features"),
            _positive_int(out_features, "out_features"))
    return shapes


@register("perceptron", shapes=_perceptron_shapes)
def perceptron(in_features: int, out_features: int = 1) -> nn.Module:
    """A single layer of linear units: ``Flatten`` then one ``Linear``.

    With ``out_features=1`` it is Rosenblatt's perceptron (one score, class 1 when it is
    positive); with more it is the multi-class linear classifier (one score per class,
    the arg-max wins), trained with cross-entropy as softmax regression.

    >>> perceptron(64, 10)
    Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=64, out_features=10, bias=True)
    )
    """
    _positive_int(in_features, "in_features")
    _positive_int(out_features, "out_features")
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, out_features))


def _conv_out(size: int, kernel: int, padding: int) -> int:
    return size + 2 * padding - kernel + 1


def _lenet5_shapes(in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                   activation: str = "relu", pool: str = "max") -> dict:
    _positive_int(in_channels, "in_channels")
    _positive_int(num_classes, "num_classes")
    _positive_int(image_size, "image_size")
    make_activation(activation)
    if pool not in ("max", "avg"):
        raise ValueError(f"unknown pool {pool!r}; choose from max, avg")
    pad2 = 0 if image_size >= 16 else 2
    size = _conv_out(_conv_out(image_size, 5, 2) // 2, 5, pad2) // 2
    if size < 1:
        raise ValueError(f"image_size {image_size} is too small for LeNet-5 (needs >= 4)")
    shapes = {"0.weight": (6, in_channels, 5, 5), "0.bias": (6,),
              "3.weight": (16, 6, 5, 5), "3.bias": (16,)}
    _linear(shapes, "7.", 16 * size * size, 120)
    _linear(shapes, "9.", 120, 84)
    _linear(shapes, "11.", 84, num_classes)
    return shapes


@register("lenet5", shapes=_lenet5_shapes)
def lenet5(in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
           activation: str = "relu", pool: str = "max") -> nn.Sequential:
    """LeNet-5: two convolution + pooling stages, then three fully connected layers.

    Each 5x5 filter slides over the image and gives a feature map; the activation and
    2x2 pooling follow, then the classifier. For 28x28 digits the first convolution pads
    by 2 (so 28 -> 28 -> 14 -> 10 -> 5, giving LeCun's 16*5*5 = 400 features); images
    smaller than 16 pixels (the 8x8 bundled digits) pad the second convolution too.
    The layer indices match the usual PyTorch ``nn.Sequential`` LeNet, so its state
    dict loads.

    >>> import nabla
    >>> lenet5()(nabla.zeros(2, 1, 28, 28)).shape
    (2, 10)
    >>> lenet5(image_size=8)(nabla.zeros(2, 1, 8, 8)).shape
    (2, 10)
    """
    _positive_int(in_channels, "in_channels")
    _positive_int(num_classes, "num_classes")
    _positive_int(image_size, "image_size")
    pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
    if pool not in pools:
        raise ValueError(f"unknown pool {pool!r}; choose from max, avg")
    pad2 = 0 if image_size >= 16 else 2
    size = _conv_out(image_size, 5, 2) // 2
    size = _conv_out(size, 5, pad2) // 2
    if size < 1:
        raise ValueError(f"image_size {image_size} is too small for LeNet-5 (needs >= 4)")
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), make_activation(activation), pools[pool](2),
        nn.Conv2d(6, 16, 5, padding=pad2), make_activation(activation), pools[pool](2),
        nn.Flatten(),
        nn.Linear(16 * size * size, 120), make_activation(activation),
        nn.Linear(120, 84), make_activation(activation),
        nn.Linear(84, num_classes),
    )


class RNNClassifier(nn.Module):
    """A recurrent layer reads a sequence; a linear layer classifies its last output.

    Image batches ``(N, 1, H, W)`` are read row by row: H time steps of W pixels.
    """

    def __init__(self, rnn: nn.Module, fc: nn.Linear):
        super().__init__()
        self.rnn = rnn
        self.fc = fc

    def forward(self, x):
        if x.ndim == 4:
            x = x.reshape(x.shape[0], x.shape[2], x.shape[3])
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def _rnn_shapes(input_size: int = 28, hidden_size: int = 128, num_classes: int = 10,
                cell: str = "lstm", num_layers: int = 1, bidirectional: bool = False) -> dict:
    _positive_int(input_size, "input_size")
    hidden = _positive_int(hidden_size, "hidden_size")
    _positive_int(num_classes, "num_classes")
    _positive_int(num_layers, "num_layers")
    gates = {"rnn": 1, "lstm": 4, "gru": 3}
    if cell not in gates:
        raise ValueError(f"unknown cell {cell!r}; choose from rnn, lstm, gru")
    if not isinstance(bidirectional, bool):
        raise ValueError(f"bidirectional must be true or false, got {bidirectional!r}")
    directions = 2 if bidirectional else 1
    shapes: dict = {}
    for layer in range(num_layers):
        n_in = input_size if layer == 0 else hidden * directions
        for suffix in ("", "_reverse")[:directions]:
            g = gates[cell] * hidden
            shapes[f"rnn.weight_ih_l{layer}{suffix}"] = (g, n_in)
            shapes[f"rnn.weight_hh_l{layer}{suffix}"] = (g, hidden)
            shapes[f"rnn.bias_ih_l{layer}{suffix}"] = (g,)
            shapes[f"rnn.bias_hh_l{layer}{suffix}"] = (g,)
    _linear(shapes, "fc.", hidden * directions, num_classes)
    return shapes


@register("rnn_classifier", shapes=_rnn_shapes)
def rnn_classifier(input_size: int = 28, hidden_size: int = 128, num_classes: int = 10,
                   cell: str = "lstm", num_layers: int = 1,
                   bidirectional: bool = False) -> RNNClassifier:
    """An RNN, LSTM or GRU over a sequence (batch first), then a linear classifier on
    the output of the last time step.

    >>> import nabla
    >>> m = rnn_classifier(input_size=28, hidden_size=16)
    >>> m(nabla.zeros(3, 1, 28, 28)).shape
    (3, 10)
    """
    _positive_int(input_size, "input_size")
    _positive_int(hidden_size, "hidden_size")
    _positive_int(num_classes, "num_classes")
    _positive_int(num_layers, "num_layers")
    cells = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
    if cell not in cells:
        raise ValueError(f"unknown cell {cell!r}; choose from rnn, lstm, gru")
    rnn = cells[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                      bidirectional=bidirectional)
    return RNNClassifier(rnn, nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes))
