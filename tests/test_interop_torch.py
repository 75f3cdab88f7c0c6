"""Weights between PyTorch and nabla through safetensors files, both ways: every layer
the two share (trained a few steps first, so nothing is at its initial value), then an
MLP, LeNet-5 and an LSTM classifier. The state-dict names, shapes and dtypes must be
PyTorch's, and the loaded model must give PyTorch's outputs. Also runs the code of
docs/interop.md."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import nabla
from nabla import io, models, nn
from nabla.nn.layers.conv import Conv1d, Conv2d, ConvTranspose2d
from nabla.nn.layers.embedding import Embedding
from nabla.nn.layers.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from nabla.nn.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from nabla.nn.layers.recurrent import GRU, LSTM, RNN

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")

TOL = dict(rtol=1e-4, atol=1e-5)
DOC = Path(__file__).resolve().parents[1] / "docs" / "interop.md"


def _first(out):
    """The tensor of a layer's output (a recurrent layer returns (output, state))."""
    return out[0] if isinstance(out, tuple) else out


def _numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _outputs(out) -> list:
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _outputs(o)]
    return [_numpy(out)]


def _train_torch(model, make_input, steps=2):
    # Plain SGD by hand: torch.optim's first use costs seconds of imports.
    model.train()
    for i in range(steps):
        model.zero_grad()
        _first(model(make_input(i))).float().square().mean().backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad


def _train_nabla(model, make_input, steps=2):
    opt = nabla.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for i in range(steps):
        loss = _first(model(make_input(i))).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _assert_same_state(nabla_model, torch_model):
    ours, theirs = nabla_model.state_dict(), torch_model.state_dict()
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        assert tuple(ours[k].shape) == tuple(v.shape), k
        assert ours[k].numpy().dtype == v.numpy().dtype, k  # num_batches_tracked: int64
        np.testing.assert_array_equal(ours[k].numpy(), v.numpy(), err_msg=k)


def _assert_same_outputs(nabla_model, torch_model, x: np.ndarray):
    nabla_model.eval()
    torch_model.eval()
    with torch.no_grad():
        want = _outputs(torch_model(torch.from_numpy(x)))
    got = _outputs(nabla_model(nabla.from_numpy(x)))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL)


def torch_to_nabla(nabla_model, torch_model, make_input, tmp_path):
    """Train in torch, save with safetensors.torch, load into nabla."""
    _train_torch(torch_model, lambda i: torch.from_numpy(make_input(i)))
    path = tmp_path / "from_torch.safetensors"
    st_torch.save_file({k: v.contiguous() for k, v in torch_model.state_dict().items()}, path)
    nabla_model.load_state_dict(io.load(path))
    _assert_same_state(nabla_model, torch_model)
    _assert_same_outputs(nabla_model, torch_model, make_input(99))


def nabla_to_torch(nabla_model, torch_model, make_input, tmp_path):
    """Train in nabla, save with nabla.io.save, load into torch."""
    _train_nabla(nabla_model, lambda i: nabla.from_numpy(make_input(i)))
    path = tmp_path / "from_nabla.safetensors"
    io.save(nabla_model, path)
    result = torch_model.load_state_dict(st_torch.load_file(path))
    assert not result.missing_keys and not result.unexpected_keys
    _assert_same_state(nabla_model, torch_model)
    _assert_same_outputs(nabla_model, torch_model, make_input(99))


def _floats(*shape):
    return lambda i: np.random.default_rng(i).normal(1.0, 2.0, shape).astype(np.float32)


def _ids(high, *shape):
    return lambda i: np.random.default_rng(i).integers(0, high, shape)


# --------------------------------------------------------------- layer by layer

# name -> (nabla layer, torch layer, input maker); same constructor arguments on both.
LAYERS = {
    "linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), _floats(4, 5)),
    "conv1d": (lambda: Conv1d(2, 4, 3, stride=2, padding=1, groups=2),
               lambda: torch.nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2),
               _floats(3, 2, 9)),
    "conv2d": (lambda: Conv2d(2, 4, (3, 2), padding=1, dilation=(1, 2)),
               lambda: torch.nn.Conv2d(2, 4, (3, 2), padding=1, dilation=(1, 2)),
               _floats(3, 2, 7, 7)),
    "conv_transpose2d": (lambda: ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                 output_padding=1, groups=2),
                         lambda: torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                          output_padding=1, groups=2),
                         _floats(2, 4, 5, 5)),
    "batch_norm1d": (lambda: BatchNorm1d(5), lambda: torch.nn.BatchNorm1d(5), _floats(8, 5)),
    "batch_norm2d": (lambda: BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3),
                     _floats(4, 3, 5, 5)),
    "layer_norm": (lambda: LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4)),
                   _floats(2, 5, 3, 4)),
    "group_norm": (lambda: GroupNorm(2, 6), lambda: torch.nn.GroupNorm(2, 6),
                   _floats(3, 6, 4, 4)),
    "embedding": (lambda: Embedding(12, 4, padding_idx=0),
                  lambda: torch.nn.Embedding(12, 4, padding_idx=0), _ids(12, 3, 5)),
    "rnn": (lambda: RNN(3, 5, nonlinearity="relu"),
            lambda: torch.nn.RNN(3, 5, nonlinearity="relu"), _floats(6, 2, 3)),
    "lstm": (lambda: LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True),
             lambda: torch.nn.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True),
             _floats(2, 6, 3)),
    "gru": (lambda: GRU(3, 5, num_layers=2), lambda: torch.nn.GRU(3, 5, num_layers=2),
            _floats(6, 2, 3)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_torch_to_nabla(tmp_path, name):
    make_nabla, make_torch, make_input = LAYERS[name]
    torch.manual_seed(0)
    torch_to_nabla(make_nabla(), make_torch(), make_input, tmp_path)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_nabla_to_torch(tmp_path, name):
    make_nabla, make_torch, make_input = LAYERS[name]
    nabla.manual_seed(0)
    nabla_to_torch(make_nabla(), make_torch(), make_input, tmp_path)


VARIANTS = [
    (lambda: nn.Linear(3, 2, bias=False), lambda: torch.nn.Linear(3, 2, bias=False)),
    (lambda: Conv2d(4, 6, 3, groups=2, bias=False),
     lambda: torch.nn.Conv2d(4, 6, 3, groups=2, bias=False)),
    (lambda: ConvTranspose2d(4, 6, (2, 3), groups=2, bias=False),
     lambda: torch.nn.ConvTranspose2d(4, 6, (2, 3), groups=2, bias=False)),
    (lambda: BatchNorm1d(3, affine=False), lambda: torch.nn.BatchNorm1d(3, affine=False)),
    (lambda: BatchNorm2d(3, track_running_stats=False),
     lambda: torch.nn.BatchNorm2d(3, track_running_stats=False)),
    (lambda: LayerNorm(4, elementwise_affine=False),
     lambda: torch.nn.LayerNorm(4, elementwise_affine=False)),
    (lambda: LayerNorm(4, bias=False), lambda: torch.nn.LayerNorm(4, bias=False)),
    (lambda: GroupNorm(2, 4, affine=False), lambda: torch.nn.GroupNorm(2, 4, affine=False)),
    (lambda: LSTM(3, 4, num_layers=3, bias=False, bidirectional=True),
     lambda: torch.nn.LSTM(3, 4, num_layers=3, bias=False, bidirectional=True)),
    (lambda: GRU(3, 4, bidirectional=True), lambda: torch.nn.GRU(3, 4, bidirectional=True)),
]


@pytest.mark.parametrize("i", range(len(VARIANTS)))
def test_state_dict_names_and_shapes_of_variants(i):
    """Optional parts (bias=False, affine=False, no running stats, more layers) are
    absent or present under the same names as in PyTorch."""
    ours, theirs = (make() for make in VARIANTS[i])
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_batch_norm_statistics_cross_over(tmp_path):
    """Running statistics and the batch counter are state: they travel both ways."""
    theirs = torch.nn.BatchNorm2d(3)
    _train_torch(theirs, lambda i: torch.from_numpy(_floats(4, 3, 5, 5)(i)), steps=3)
    st_torch.save_file(theirs.state_dict(), tmp_path / "bn.safetensors")
    ours = BatchNorm2d(3)
    ours.load_state_dict(io.load(tmp_path / "bn.safetensors"))
    assert int(ours.num_batches_tracked) == 3
    assert not np.allclose(ours.running_var.numpy(), 1.0)
    ours.train()
    ours(nabla.from_numpy(_floats(4, 3, 5, 5)(7)))  # one more step here, then back
    io.save(ours, tmp_path / "bn2.safetensors")
    theirs.load_state_dict(st_torch.load_file(tmp_path / "bn2.safetensors"))
    assert int(theirs.num_batches_tracked) == 4
    np.testing.assert_array_equal(theirs.running_mean.numpy(), ours.running_mean.numpy())


# ---------------------------------------------------------------------- models

def _torch_twin(m):
    """A torch module with the same structure and settings as nabla module ``m``."""
    T = torch.nn
    name = type(m).__name__
    if isinstance(m, nn.Sequential):
        return T.Sequential(*[_torch_twin(c) for c in m])
    simple = {"ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "Identity"}
    if name in simple:
        return getattr(T, name)()
    if name == "Linear":
        return T.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if name == "Flatten":
        return T.Flatten(m.start_dim, m.end_dim)
    if name == "Dropout":
        return T.Dropout(m.p)
    if name == "LeakyReLU":
        return T.LeakyReLU(m.negative_slope)
    if name == "Softplus":
        return T.Softplus(m.beta, m.threshold)
    if name == "Conv2d":
        return T.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                        m.dilation, m.groups, m.bias is not None, m.padding_mode)
    if name in ("MaxPool2d", "AvgPool2d"):
        return getattr(T, name)(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)
    if name == "AdaptiveAvgPool2d":
        return T.AdaptiveAvgPool2d(m.output_size)
    if name in ("BatchNorm1d", "BatchNorm2d"):
        return getattr(T, name)(m.num_features, m.eps, m.momentum)
    raise NotImplementedError(f"no torch twin for {name}")


def lenet5():
    """LeNet-5 for 28x28 images, in the layout PyTorch code usually gives it."""
    return nn.Sequential(
        Conv2d(1, 6, 5, padding=2), nn.ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5), nn.ReLU(), MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def test_lenet5_matches_the_usual_torch_indices():
    keys = list(lenet5().state_dict())
    assert keys[:2] == ["0.weight", "0.bias"] and keys[-2:] == ["11.weight", "11.bias"]
    assert keys == list(_torch_twin(lenet5()).state_dict())


@pytest.mark.parametrize("direction", ["torch_to_nabla", "nabla_to_torch"])
@pytest.mark.parametrize("model", ["mlp", "lenet5", "cnn_bn"])
def test_sequential_models(tmp_path, model, direction):
    nabla.manual_seed(0)
    torch.manual_seed(0)
    ours, shape = {
        "mlp": (lambda: models.mlp(64, hidden=(32, 16), out_features=10), (4, 1, 8, 8)),
        "lenet5": (lenet5, (4, 1, 28, 28)),
        "cnn_bn": (lambda: nn.Sequential(Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), nn.ReLU(),
                                         AvgPool2d(2), AdaptiveAvgPool2d(1), nn.Flatten(),
                                         nn.Linear(8, 4)), (4, 3, 8, 8)),
    }[model]
    ours = ours()
    fn = torch_to_nabla if direction == "torch_to_nabla" else nabla_to_torch
    fn(ours, _torch_twin(ours), _floats(*shape), tmp_path)


@pytest.mark.skipif(not hasattr(models, "lenet5"), reason="nabla.models.lenet5 not built yet")
def test_lenet5_builder_loads_torch_weights(tmp_path):
    ours = models.lenet5()
    size = next(s for s in (28, 32) if _fits(ours, (1, 1, s, s)))
    torch_to_nabla(ours, _torch_twin(ours), _floats(2, 1, size, size), tmp_path)


def _fits(model, shape) -> bool:
    try:
        model(nabla.zeros(*shape))
    except (ValueError, RuntimeError):
        return False
    return True


class NablaLSTMClassifier(nn.Module):
    def __init__(self, input_size=8, hidden=16, classes=10):
        super().__init__()
        self.rnn = LSTM(input_size, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class TorchLSTMClassifier(torch.nn.Module):
    def __init__(self, input_size=8, hidden=16, classes=10):
        super().__init__()
        self.rnn = torch.nn.LSTM(input_size, hidden, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("direction", ["torch_to_nabla", "nabla_to_torch"])
def test_lstm_classifier(tmp_path, direction):
    nabla.manual_seed(0)
    torch.manual_seed(0)
    fn = torch_to_nabla if direction == "torch_to_nabla" else nabla_to_torch
    fn(NablaLSTMClassifier(), TorchLSTMClassifier(), _floats(3, 8, 8), tmp_path)


def test_trained_in_torch_then_exported_from_nabla(tmp_path):
    """The whole road: train in PyTorch, load in nabla, export ONNX, run onnxruntime."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    theirs = TorchLSTMClassifier()
    _train_torch(theirs, lambda i: torch.from_numpy(_floats(3, 8, 8)(i)))
    st_torch.save_file(theirs.state_dict(), tmp_path / "w.safetensors")
    ours = NablaLSTMClassifier()
    ours.load_state_dict(io.load(tmp_path / "w.safetensors"))
    io.export_onnx(ours, nabla.zeros(1, 8, 8), tmp_path / "m.onnx")
    x = _floats(5, 8, 8)(3)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = theirs.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x})[0], want, **TOL)


# ------------------------------------------------------------------ the documentation

def _snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_docs_interop_snippets_run(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    snippets = _snippets()
    assert len(snippets) >= 4
    monkeypatch.chdir(tmp_path)  # the snippets write their files here
    namespace: dict = {}
    for code in snippets:  # one session, in order, as a reader would run them
        exec(compile(code, str(DOC), "exec"), namespace)
