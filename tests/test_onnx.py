"""ONNX export (nabla.io.export_onnx): every layer mapping run by onnxruntime against
nabla's own forward, whole models (MLP, LeNet-5, LSTM classifiers, a CNN with batch
norm) at a batch size other than the example's, the graph's structure, errors, the
atomic write and the command-line entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nabla
from nabla import io, models, nn
from nabla.io.onnx import MIN_OPSET, UnsupportedModuleError, export_main
from nabla.nn.layers.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Dropout2d
from nabla.nn.layers.embedding import Embedding
from nabla.nn.layers.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from nabla.nn.layers.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    Upsample,
)
from nabla.nn.layers.recurrent import GRU, LSTM, RNN

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = dict(rtol=1e-4, atol=1e-5)


def _randomize(model, seed=0):
    """Weights and running statistics away from their initial values, so a mapping that
    ignores one of them (a bias, the running variance) shows."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        for t in m.parameters(recurse=False):
            t._data[...] = rng.normal(0, 0.5, t.shape)
        if isinstance(m, (BatchNorm1d, BatchNorm2d)) and m.running_mean is not None:
            m.running_mean._data[...] = rng.normal(0, 0.5, m.running_mean.shape)
            m.running_var._data[...] = rng.uniform(0.5, 2.0, m.running_var.shape)
    return model


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out.detach().numpy()]


def _check(model, x, tmp_path, other_batch=3, opset=17, batch_axis=0, **kw):
    """Export ``model`` for example ``x``, run it with onnxruntime at the example's batch
    and at ``other_batch``, compare with nabla; return the ModelProto."""
    path = tmp_path / "model.onnx"
    proto = io.export_onnx(model, x, path, opset=opset, **kw)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.asarray(x)
    if x.dtype == np.float64:  # the graph takes the weights' float32 (see export_onnx)
        x = x.astype(np.float32)
    shape = list(x.shape)
    shape[batch_axis] = other_batch
    rng = np.random.default_rng(1)
    other = (rng.integers(0, x.max() + 1, shape) if x.dtype.kind == "i"
             else rng.normal(size=shape)).astype(x.dtype)
    model.eval()
    for inp in (x, other):
        got = session.run(None, {"input": inp})
        want = _flat(model(nabla.from_numpy(inp)))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, **TOL)
    return proto


def _ops(proto) -> list:
    return [n.op_type for n in proto.graph.node]


def _x(*shape, seed=0):
    return nabla.from_numpy(np.random.default_rng(seed).normal(size=shape).astype(np.float32))


def lenet5():
    """LeNet-5 for 28x28 images, in PyTorch's usual layout (indices match a torch twin)."""
    return nn.Sequential(
        Conv2d(1, 6, 5, padding=2), nn.ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5), nn.ReLU(), MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


class LSTMClassifier(nn.Module):
    """Rows of an image as time steps; the head reads the last step."""

    def __init__(self, input_size=8, hidden=16, classes=10, last="step", **kw):
        super().__init__()
        self.rnn = LSTM(input_size, hidden, batch_first=True, **kw)
        dirs = 2 if kw.get("bidirectional") else 1
        self.fc = nn.Linear(hidden * (dirs if last != "h_n" else 1), classes)
        self.last = last

    def forward(self, x):
        out, (h_n, _) = self.rnn(x.reshape(x.shape[0], -1, self.rnn.input_size))
        if self.last == "step":
            return self.fc(out[:, -1])
        if self.last == "h_n":
            return self.fc(h_n[-1])
        return self.fc(nabla.cat([h_n[-2], h_n[-1]], dim=1))


# --------------------------------------------------------------------- whole models

def test_mlp(tmp_path):
    model = models.mlp(64, hidden=(32, 16), out_features=10, dropout=0.2)
    io.export_onnx(model, _x(2, 1, 8, 8), tmp_path / "m.onnx")
    assert model.training  # export switches to eval mode and back
    proto = _check(model, _x(2, 1, 8, 8), tmp_path, other_batch=7)
    assert _ops(proto) == ["Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]


def test_lenet5(tmp_path):
    model = _randomize(lenet5())
    proto = _check(model, _x(2, 1, 28, 28), tmp_path, other_batch=5)
    assert _ops(proto).count("Conv") == 2 and _ops(proto).count("MaxPool") == 2


@pytest.mark.skipif(not hasattr(models, "lenet5"), reason="nabla.models.lenet5 not built yet")
def test_lenet5_builder(tmp_path):
    model = models.lenet5()
    for size in (28, 32):  # whichever input the builder's default is for
        try:
            model(nabla.zeros(1, 1, size, size))
        except (ValueError, RuntimeError):
            continue
        _check(model, _x(2, 1, size, size), tmp_path)
        return
    pytest.fail("models.lenet5() takes neither 28x28 nor 32x32 images")


@pytest.mark.parametrize("last, kw", [
    ("step", {}), ("h_n", {}), ("step", {"num_layers": 2}),
    ("both", {"bidirectional": True}), ("step", {"bidirectional": True, "num_layers": 2}),
])
def test_lstm_classifier(tmp_path, last, kw):
    model = LSTMClassifier(last=last, **kw)
    proto = _check(model, _x(2, 1, 8, 8), tmp_path, other_batch=6)
    assert _ops(proto).count("LSTM") == kw.get("num_layers", 1)


class _TextGRU(nn.Module):
    """Sequence-first GRU over embedded ids; the head reads h_n[-1]."""

    def __init__(self):
        super().__init__()
        self.embedding = Embedding(20, 6)
        self.gru = GRU(6, 5)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(5, 3))

    def forward(self, ids):
        _, h_n = self.gru(self.embedding(ids))
        return self.head(h_n[-1])


def test_sequence_first_gru_classifier_over_embeddings(tmp_path):
    ids = nabla.from_numpy(np.random.default_rng(0).integers(0, 20, (7, 2)))
    proto = _check(_TextGRU(), ids, tmp_path, other_batch=4, batch_axis=1)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [d.dim_param or d.dim_value for d in
            proto.graph.input[0].type.tensor_type.shape.dim] == [7, "batch"]


@pytest.mark.skipif(not hasattr(models, "rnn_classifier"),
                    reason="nabla.models.rnn_classifier not built yet")
def test_rnn_classifier_builder(tmp_path):
    model = models.rnn_classifier()
    for shape in ((1, 28, 28), (28, 28), (1, 8, 8), (8, 8)):
        try:
            model(nabla.zeros(1, *shape))
        except (ValueError, RuntimeError):
            continue
        _check(model, _x(2, *shape), tmp_path)
        return
    pytest.fail("models.rnn_classifier() takes none of the usual image shapes")


def test_cnn_with_batch_norm(tmp_path):
    model = nn.Sequential(
        Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), nn.ReLU(), MaxPool2d(2),
        Conv2d(8, 8, 3, padding=1, bias=False), BatchNorm2d(8), nn.ReLU(),
        AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 4))
    opt = nabla.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):  # running statistics away from (0, 1)
        loss = model(_x(8, 3, 8, 8, seed=_) * 2 + 1).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mean = model[1].running_mean.numpy().copy()
    io.export_onnx(model, _x(2, 3, 8, 8), tmp_path / "m.onnx")
    assert model.training and np.array_equal(model[1].running_mean.numpy(), mean)
    proto = _check(model, _x(2, 3, 8, 8), tmp_path, other_batch=5)
    assert _ops(proto).count("BatchNormalization") == 2
    assert "GlobalAveragePool" in _ops(proto) and "Dropout" not in _ops(proto)


# ----------------------------------------------------------------- layer by layer

LAYERS = {
    "linear_3d": (lambda: nn.Linear(5, 3), (2, 4, 5)),
    "linear_no_bias": (lambda: nn.Linear(5, 3, bias=False), (2, 5)),
    "conv1d": (lambda: Conv1d(2, 4, 3, stride=2, padding=1), (2, 2, 9)),
    "conv1d_same": (lambda: Conv1d(4, 4, 4, padding="same", dilation=2, groups=2), (2, 4, 10)),
    "conv2d_groups": (lambda: Conv2d(4, 6, (3, 2), stride=(2, 1), padding="valid", groups=2,
                                     bias=False), (2, 4, 7, 6)),
    "conv2d_reflect": (lambda: Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"),
                       (2, 2, 6, 7)),
    "conv2d_replicate": (lambda: Conv2d(2, 3, 3, padding=1, padding_mode="replicate"),
                         (2, 2, 5, 5)),
    "conv_transpose2d": (lambda: ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                 output_padding=1, groups=2), (2, 4, 5, 5)),
    "conv_transpose2d_dilated": (lambda: ConvTranspose2d(2, 3, (3, 2), stride=(2, 3),
                                                         dilation=2, bias=False), (2, 2, 4, 3)),
    "conv_transpose1d": (lambda: ConvTranspose1d(2, 3, 4, stride=2), (2, 2, 5)),
    "max_pool2d_ceil": (lambda: MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                        (2, 3, 8, 8)),
    "max_pool2d_ceil_window_in_padding": (lambda: MaxPool2d(2, stride=2, padding=1,
                                                            ceil_mode=True), (2, 3, 5, 5)),
    "avg_pool2d_ceil": (lambda: AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
                        (2, 3, 8, 8)),
    "avg_pool2d_ceil_exclude_pad": (lambda: AvgPool2d(2, stride=2, padding=1, ceil_mode=True,
                                                      count_include_pad=False), (2, 3, 5, 6)),
    "avg_pool2d_ceil_hanging_exclude_pad": (lambda: AvgPool2d(3, stride=2, padding=1,
                                                              ceil_mode=True,
                                                              count_include_pad=False),
                                            (2, 3, 8, 8)),
    "max_pool2d_dilated": (lambda: MaxPool2d(2, dilation=2), (2, 3, 9, 9)),
    "max_pool1d": (lambda: MaxPool1d(3, stride=2), (2, 3, 10)),
    "avg_pool2d_pad": (lambda: AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avg_pool2d_exclude_pad": (lambda: AvgPool2d(3, stride=2, padding=1,
                                                 count_include_pad=False), (2, 3, 7, 7)),
    "avg_pool1d": (lambda: AvgPool1d(2), (2, 3, 9)),
    "adaptive_avg_2x2": (lambda: AdaptiveAvgPool2d((2, 2)), (2, 3, 8, 6)),
    "adaptive_avg_keep": (lambda: AdaptiveAvgPool2d((None, 1)), (2, 3, 4, 6)),
    "adaptive_max_1": (lambda: AdaptiveMaxPool2d(1), (2, 3, 5, 7)),
    "adaptive_avg1d_1": (lambda: AdaptiveAvgPool1d(1), (2, 3, 5)),
    "batch_norm1d_2d_input": (lambda: BatchNorm1d(5), (4, 5)),
    "batch_norm1d_3d_input": (lambda: BatchNorm1d(3), (4, 3, 6)),
    "batch_norm2d_no_affine": (lambda: BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
    "layer_norm": (lambda: LayerNorm((4, 5)), (2, 3, 4, 5)),
    "layer_norm_no_bias": (lambda: LayerNorm(5, bias=False), (2, 5)),
    "group_norm": (lambda: GroupNorm(2, 6), (2, 6, 4, 4)),
    "group_norm_no_affine": (lambda: GroupNorm(3, 6, affine=False), (2, 6, 5)),
    "relu": (nn.ReLU, (2, 7)),
    "sigmoid": (nn.Sigmoid, (2, 7)),
    "tanh": (nn.Tanh, (2, 7)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), (2, 7)),
    "softplus": (nn.Softplus, (2, 7)),
    "softplus_beta_threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.0), (2, 7)),
    "gelu": (nn.GELU, (2, 7)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), (2, 7)),
    "silu": (nn.SiLU, (2, 7)),
    "softmax": (lambda: nn.Softmax(dim=1), (2, 7)),
    "log_softmax_last": (lambda: nn.LogSoftmax(dim=-1), (2, 3, 7)),
    "flatten": (nn.Flatten, (2, 3, 4, 5)),
    "flatten_from_2": (lambda: nn.Flatten(2), (2, 3, 4, 5)),
    "flatten_middle": (lambda: nn.Flatten(1, 2), (2, 3, 4, 5)),
    "unflatten": (lambda: nn.Unflatten(1, (2, 6)), (2, 12)),
    "dropout_identity": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Identity(), Dropout2d(0.5),
                                               nn.ReLU()), (2, 3, 4, 4)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer(tmp_path, name):
    make, shape = LAYERS[name]
    layer = _randomize(make())
    _check(layer, _x(*shape), tmp_path)
    _check(nn.Sequential(layer, nn.Identity()), _x(*shape), tmp_path)


@pytest.mark.parametrize("opset", [MIN_OPSET, 17, 20])
def test_opset_dependent_mappings(tmp_path, opset):
    model = _randomize(nn.Sequential(LayerNorm(6), nn.GELU(), nn.Linear(6, 6), nn.GELU("tanh")))
    ops = _ops(_check(model, _x(3, 6), tmp_path, opset=opset))
    assert ("LayerNormalization" in ops) == (opset >= 17)
    assert ("Gelu" in ops) == (opset >= 20)


def test_circular_padding_needs_opset_19(tmp_path):
    model = _randomize(Conv2d(2, 3, 3, padding=1, padding_mode="circular"))
    _check(model, _x(2, 2, 5, 6), tmp_path, opset=19)
    with pytest.raises(UnsupportedModuleError, match="circular.*opset >= 19"):
        io.export_onnx(model, _x(2, 2, 5, 6), tmp_path / "m.onnx", opset=17)


def test_embedding_to_gather(tmp_path):
    model = nn.Sequential(Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    ids = nabla.from_numpy(np.array([[1, 2, 9], [0, 4, 4]]))
    assert "Gather" in _ops(_check(model, ids, tmp_path))


@pytest.mark.parametrize("make, shape", [
    (lambda: LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True), (2, 5, 3)),
    (lambda: LSTM(3, 4, bias=False), (5, 2, 3)),
    (lambda: GRU(3, 4, num_layers=2), (5, 2, 3)),
    (lambda: GRU(3, 4, batch_first=True, bidirectional=True), (2, 5, 3)),
    (lambda: RNN(3, 4, nonlinearity="relu", bidirectional=True), (5, 2, 3)),
    (lambda: RNN(3, 4, num_layers=3, batch_first=True), (2, 5, 3)),
])
def test_recurrent_layer_alone(tmp_path, make, shape):
    layer = make()
    proto = _check(layer, _x(*shape), tmp_path, batch_axis=0 if layer.batch_first else 1)
    names = [o.name for o in proto.graph.output]
    assert names == (["output", "h_n", "c_n"] if isinstance(layer, LSTM) else ["output", "h_n"])
    dims = [d.dim_param or d.dim_value for d in proto.graph.output[1].type.tensor_type.shape.dim]
    assert dims[1] == "batch"


def test_recurrent_last_in_sequential(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), GRU(4, 5, batch_first=True))
    proto = _check(model, _x(2, 6, 3), tmp_path, output_names=("seq", "final"))
    assert [o.name for o in proto.graph.output] == ["seq", "final"]


# ------------------------------------------------------------------ graph details

def test_graph_io_names_dims_and_metadata(tmp_path):
    model = models.perceptron(6, 3)
    proto = io.export_onnx(model, _x(4, 6), tmp_path / "p.onnx", input_names=("pixels",),
                           output_names=("logits",), metadata={"note": "hi"})
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("pixels", "logits")
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 6]
    assert {p.key: p.value for p in proto.metadata_props} == {"note": "hi"}
    assert proto.opset_import[0].version == 17 and proto.producer_name == "nabla"
    # Weights keep their state-dict names, so the graph reads like the model.
    assert {i.name for i in proto.graph.initializer} == {"1.weight", "1.bias"}
    static = io.export_onnx(model, _x(4, 6), tmp_path / "s.onnx", dynamic_batch=False)
    assert [d.dim_value for d in static.graph.input[0].type.tensor_type.shape.dim] == [4, 6]


def test_float64_example_takes_the_model_dtype(tmp_path):
    model = models.perceptron(4, 2)
    x = np.random.default_rng(0).normal(size=(3, 4))  # NumPy's float64
    proto = _check(model, x, tmp_path)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_identity_model_still_has_a_node(tmp_path):
    _check(nn.Sequential(nn.Dropout(), nn.Identity()), _x(2, 3), tmp_path)


def test_written_atomically(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    with pytest.raises(UnsupportedModuleError):
        io.export_onnx(nn.Sequential(nn.Linear(4, 4), Upsample(scale_factor=2)), _x(1, 4),
                       path)
    assert path.read_bytes() == b"previous"  # a failed export leaves the old file
    io.export_onnx(nn.Linear(4, 2), _x(1, 4), path)
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temporary file left behind
    assert onnx.load(path).graph.node[0].op_type == "Gemm"


# ------------------------------------------------------------------------- errors

class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)

    def forward(self, x):
        return self.a(x) * 2


class _OwnForward(nn.Sequential):
    def forward(self, x):
        return super().forward(x) + 1


class _MeanPooled(LSTMClassifier):
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out.mean(dim=1))


@pytest.mark.parametrize("model, x, match", [
    (nn.Sequential(nn.Linear(4, 4), Upsample(scale_factor=2)), (1, 4),
     r"Upsample at '1' has no ONNX mapping"),
    (_Custom(), (2, 3), r"_Custom has no ONNX mapping"),
    (_OwnForward(nn.Linear(3, 3)), (2, 3), r"_OwnForward has no ONNX mapping"),
    (nn.Sequential(nn.Step()), (2, 3), r"Step at '0'"),
    (AdaptiveAvgPool2d(3), (1, 2, 8, 8), r"uneven windows"),
    (MaxPool2d(2, return_indices=True), (1, 2, 4, 4), r"return_indices"),
    (AvgPool2d(2, divisor_override=3), (1, 2, 4, 4), r"divisor_override"),
    (BatchNorm1d(3, track_running_stats=False), (4, 3), r"track_running_stats=False"),
    (nn.Sequential(LSTM(3, 4), nn.Linear(4, 2)), (5, 2, 3), r"tuple of a recurrent layer"),
    (_MeanPooled(input_size=3), (2, 5, 3), r"forward is not one export can express"),
    (LSTM(3, 4), (5, 3), r"batched input"),
    (nn.Unflatten(0, (1, 2)), (2, 3), r"batch dimension"),
])
def test_unsupported(tmp_path, model, x, match):
    with pytest.raises(UnsupportedModuleError, match=match) as info:
        io.export_onnx(model, _x(*x), tmp_path / "m.onnx")
    assert isinstance(info.value, NotImplementedError) and isinstance(info.value, ValueError)
    assert not (tmp_path / "m.onnx").exists()


def test_bad_arguments(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset"):
        io.export_onnx(model, _x(1, 2), tmp_path / "m.onnx", opset=MIN_OPSET - 1)
    with pytest.raises(ValueError, match="input_names"):
        io.export_onnx(model, _x(1, 2), tmp_path / "m.onnx", input_names=("a", "b"))
    with pytest.raises(ValueError, match="2 output names for 1 outputs"):
        io.export_onnx(model, _x(1, 2), tmp_path / "m.onnx", output_names=("a", "b"))
    with pytest.raises(TypeError, match="metadata must map str to str"):
        io.export_onnx(model, _x(1, 2), tmp_path / "m.onnx", metadata={"epochs": 3})
    with pytest.raises(TypeError, match="nabla.nn.Module"):
        io.export_onnx(lambda x: x, _x(1, 2), tmp_path / "m.onnx")


def test_onnx_is_imported_only_when_an_export_runs():
    code = "import sys, nabla.io; sys.exit('onnx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_missing_onnx_package_is_a_clear_import_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what an absent package looks like
    with pytest.raises(ImportError, match="pip install onnx"):
        io.export_onnx(nn.Linear(2, 2), _x(1, 2), tmp_path / "m.onnx")


# ------------------------------------------------------------------- command line

def test_export_main(tmp_path, capsys):
    model = models.mlp(64, hidden=(16,), out_features=10)
    data = {"dataset": "digits", "input_shape": [1, 8, 8], "mean": [0.0], "std": [1.0]}
    io.save(model, tmp_path / "model.safetensors", metadata={"nabla_data": json.dumps(data)})
    assert export_main(tmp_path / "model.safetensors", tmp_path / "model.onnx") == 0
    printed = capsys.readouterr().out
    assert "model.onnx" in printed and "[batch, 1, 8, 8]" in printed and "[batch, 10]" in printed
    proto = onnx.load(tmp_path / "model.onnx")
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["nabla_data"])["input_shape"] == [1, 8, 8]
    assert json.loads(meta["nabla_arch"])["builder"] == "mlp"
    session = ort.InferenceSession(str(tmp_path / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0],
                               model(nabla.from_numpy(x)).detach().numpy(), **TOL)


def test_export_main_shape_from_architecture_and_errors(tmp_path, capsys):
    io.save(models.perceptron(5, 2), tmp_path / "p.safetensors")
    assert export_main(tmp_path / "p.safetensors", tmp_path / "p.onnx") == 0
    assert "[batch, 5]" in capsys.readouterr().out
    assert export_main(tmp_path / "missing.safetensors", tmp_path / "x.onnx") == 1
    assert "model file not found" in capsys.readouterr().err
    io.save(nn.Linear(2, 2), tmp_path / "bare.safetensors")  # no architecture recorded
    assert export_main(tmp_path / "bare.safetensors", tmp_path / "x.onnx") == 1
    err = capsys.readouterr().err
    assert err.startswith("nabla export: error:") and "no architecture" in err
    assert not (tmp_path / "x.onnx").exists()


def test_export_main_from_a_training_checkpoint(tmp_path, capsys):
    model = models.mlp(6, hidden=(4,), out_features=2)
    io.save_checkpoint(tmp_path / "c.safetensors", model,
                       nabla.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                       metadata={"nabla_data": json.dumps({"input_shape": [6]})})
    assert export_main(tmp_path / "c.safetensors", tmp_path / "c.onnx") == 0
    keys = {p.key for p in onnx.load(tmp_path / "c.onnx").metadata_props}
    assert keys == {"nabla_arch", "nabla_data"}  # not the optimizer's state
