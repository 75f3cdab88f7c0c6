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


def register(name: str):
    """Register a model builder under ``name``, making its models self-describing.

    The decorated function's bound arguments (defaults included) are recorded on the
    model it returns as ``model._nabla_arch = {"builder": name, "kwargs": {...}}``.

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
    KeyError: "unknown model builder 'os.system'; known: mlp, perceptron"
    """
    if not isinstance(arch, dict) or not isinstance(arch.get("builder"), str):
        raise ValueError(f"an architecture record is a dict with a 'builder' name, got {arch!r}")
    name, kwargs = arch["builder"], arch.get("kwargs", {})
    if name not in _BUILDERS:
        raise KeyError(f"unknown model builder {name!r}; known: {', '.join(available())}")
    if not isinstance(kwargs, dict):
        raise ValueError(f"'kwargs' of an architecture record must be a dict, got {kwargs!r}")
    return _BUILDERS[name](**kwargs)


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

@register("mlp")
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


@register("perceptron")
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


# Convolutional and recurrent builders (lenet5, rnn_classifier) are registered here by
# the conv/recurrent work: decorate them with @register("lenet5") / @register("rnn") and
# add them to the CLI's MODELS table in nabla/cli.py.
