"""Export nabla models to ONNX, to run them with onnxruntime or any other ONNX runtime.

:func:`export_onnx` walks the module tree (``Sequential`` children in order) and maps
each layer to ONNX operators, reading the weights straight from the parameters. It runs
the model once on ``example_input`` while it walks: every layer sees the real shape of
its input, and the result of the walk is checked against the model's own forward, so a
model whose ``forward`` does something the walk cannot see is refused, never exported
wrong.

What maps to what (PyTorch's layers, ONNX's operators):

=====================================  ===============================================
``Linear``                             ``Gemm`` (``transB=1``); ``MatMul`` + ``Add`` on
                                       inputs of more than 2 dims
``Conv1d``, ``Conv2d``                 ``Conv`` (+ ``Pad`` for reflect/replicate/circular)
``ConvTranspose1d/2d``                 ``ConvTranspose``
``MaxPool1d/2d``, ``AvgPool1d/2d``     ``MaxPool``, ``AveragePool``
``AdaptiveAvg/MaxPool1d/2d``           ``GlobalAveragePool``/``GlobalMaxPool`` for size 1,
                                       a fixed pooling where the sizes divide evenly
``BatchNorm1d/2d/3d`` (eval)           ``BatchNormalization``
``LayerNorm``                          ``LayerNormalization`` (opset >= 17), else decomposed
``GroupNorm``                          ``InstanceNormalization`` over groups + affine
activations                            ``Relu``, ``Sigmoid``, ``Tanh``, ``LeakyRelu``,
                                       ``Softplus``, ``Gelu`` (opset >= 20, else
                                       decomposed), ``Softmax``, ``LogSoftmax``; SiLU is
                                       ``x * Sigmoid(x)``
``Flatten``, ``Unflatten``             ``Flatten`` (``start_dim=1`` to the end), else
                                       ``Reshape``
``Dropout*``, ``Identity``             nothing (inference graphs have no dropout)
``Embedding``                          ``Gather``
``RNN``, ``LSTM``, ``GRU``             ``RNN``, ``LSTM``, ``GRU``, one node per layer
=====================================  ===============================================

Recurrent layers return ``(output, state)``. Exported alone they give several graph
outputs (``output``, ``h_n`` and, for an LSTM, ``c_n``); inside a ``Sequential`` one
can only come last. A classifier built around one (``RowLSTM`` in
``examples/train_lstm_mnist.py``, ``LastState`` in ``examples/10_rnn_lstm.py``) is
supported in this form: a Module whose children, in the order they were assigned, are
optional layers
before the recurrent layer (an ``Embedding``, say), the recurrent layer, then the
layers of the head (a ``Linear``, ...), and whose forward feeds the head with the last
time step of the output, ``out[:, -1]``, or with the final hidden state of the last
layer, ``h_n[-1]`` (bidirectional: ``cat(h_n[-2], h_n[-1])``). Image batches
``(N, 1, H, W)`` may be reshaped to ``(N, H, W)`` first (rows as time steps). Which of
these the forward does is found by running it.

Export uses evaluation mode (batch-norm running statistics, no dropout) and puts each
module's training flag back afterwards. With ``dynamic_batch`` the batch dimension is
symbolic (``"batch"``) and every other dimension is fixed to the example's.

``onnx`` is an optional dependency (``pip install onnx``); nabla never imports it until
an export runs.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

from ..autograd import no_grad
from ..creation import as_tensor
from ..functions import cat
from ..nn.layers import activation as A
from ..nn.layers import container as K
from ..nn.layers import conv as C
from ..nn.layers import dropout as D
from ..nn.layers import embedding as E
from ..nn.layers import linear as L
from ..nn.layers import normalization as N
from ..nn.layers import pooling as P
from ..nn.layers import recurrent as R
from ..nn.module import Module, Sequential
from ..tensor import Tensor
from .checkpoint import atomic_write_bytes

__all__ = ["export_onnx", "export_main", "UnsupportedModuleError", "MIN_OPSET"]

# Opset 13 is the first where Softmax works along one axis as PyTorch's does and
# Squeeze takes its axes as an input; the builders below rely on both.
MIN_OPSET = 13


class UnsupportedModuleError(NotImplementedError, ValueError):
    """A module (or a setting of one) that has no ONNX mapping; catchable as
    ``NotImplementedError`` or ``ValueError``."""


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install onnx "
                          "(or pip install 'nabla[onnx]')") from None
    return onnx, helper, numpy_helper


class _Value:
    """A tensor flowing through the graph being built: its ONNX name, nabla's value of
    it for the example input (for shapes), and which axis is the batch (or None)."""

    __slots__ = ("name", "tensor", "batch_axis")

    def __init__(self, name: str, tensor: Tensor, batch_axis: int | None):
        self.name = name
        self.tensor = tensor
        self.batch_axis = batch_axis

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)

    @property
    def ndim(self) -> int:
        return self.tensor.ndim


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self, helper, numpy_helper, opset: int, dynamic_batch: bool):
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.opset = opset
        self.dynamic = dynamic_batch
        self.nodes = []
        self.initializers = []
        self._taken: set[str] = set()

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self._taken:
            name, i = f"{base}_{i}", i + 1
        self._taken.add(name)
        return name

    def const(self, value, base: str, dtype=None) -> str:
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        if dtype is not None:
            arr = arr.astype(dtype)
        if not arr.flags.c_contiguous:  # not np.ascontiguousarray: it makes 0-d into 1-d
            arr = arr.copy(order="C")
        name = self.fresh(base)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def ints(self, values, base: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), base)

    def node(self, op: str, inputs, base: str, outputs: int = 1, **attrs):
        names = [self.fresh(f"{base}/{op}" if outputs == 1 else f"{base}/{op}:{i}")
                 for i in range(outputs)]
        self.nodes.append(self.helper.make_node(op, list(inputs), names,
                                                name=self.fresh(f"{base}/{op}#node"), **attrs))
        return names[0] if outputs == 1 else names


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(path: str, m: Module) -> str:
    return f"{type(m).__name__} at {path!r}" if path else type(m).__name__


def _tup(v, n: int) -> list:
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"expected {n} values, got {v!r}")
        return [int(i) for i in v]
    return [int(v)] * n


def _float_dtype(x: _Value, m: Module) -> np.dtype:
    """The dtype constants of layer ``m`` should have: its parameters' (or the input's)."""
    p = next(iter(m.parameters()), None)
    if p is not None:
        return p._data.dtype
    return x.tensor._data.dtype if x.tensor._data.dtype.kind == "f" else np.dtype(np.float32)


# ----------------------------------------------------------------------------- layers
# Each converter gets the graph, the module, its input value, nabla's output for the
# example input and the module's dotted path; it returns the ONNX name of the output
# (the batch axis stays where it was) or a _Value / tuple of them.

def _linear(g, m, x, out, path):
    if x.ndim == 2:
        inputs = [x.name, g.const(m.weight, _join(path, "weight"))]
        if m.bias is not None:
            inputs.append(g.const(m.bias, _join(path, "bias")))
        return g.node("Gemm", inputs, path, transB=1)
    # Gemm takes matrices only; a batch of sequences goes through MatMul with W^T.
    y = g.node("MatMul", [x.name, g.const(m.weight._data.T, _join(path, "weight_t"))], path)
    if m.bias is not None:
        y = g.node("Add", [y, g.const(m.bias, _join(path, "bias"))], path)
    return y


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _conv_pads(m, n: int) -> tuple[list, list]:
    """(begin, end) padding per spatial dim, ``"same"`` resolved as PyTorch does."""
    if m.padding == "valid":
        return [0] * n, [0] * n
    if m.padding == "same":
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        begin = [t // 2 for t in total]
        return begin, [t - b for t, b in zip(total, begin)]
    p = list(m.padding)
    return p, list(p)


def _conv(g, m, x, out, path):
    n = len(m.kernel_size)
    begin, end = _conv_pads(m, n)
    src = x.name
    if m.padding_mode != "zeros":
        mode = _PAD_MODES[m.padding_mode]
        if mode == "wrap" and g.opset < 19:
            raise UnsupportedModuleError(
                f"{_where(path, m)}: padding_mode='circular' needs opset >= 19 (Pad mode "
                f"'wrap'), got opset {g.opset}")
        pads = g.ints([0, 0, *begin, 0, 0, *end], _join(path, "pads"))
        src = g.node("Pad", [src, pads], path, mode=mode)
        begin, end = [0] * n, [0] * n
    inputs = [src, g.const(m.weight, _join(path, "weight"))]
    if m.bias is not None:
        inputs.append(g.const(m.bias, _join(path, "bias")))
    return g.node("Conv", inputs, path, kernel_shape=list(m.kernel_size),
                  strides=list(m.stride), dilations=list(m.dilation), pads=begin + end,
                  group=m.groups)


def _conv_transpose(g, m, x, out, path):
    # The weight layout (C_in, C_out/groups, k...) is the same in both.
    inputs = [x.name, g.const(m.weight, _join(path, "weight"))]
    if m.bias is not None:
        inputs.append(g.const(m.bias, _join(path, "bias")))
    p = list(m.padding)
    return g.node("ConvTranspose", inputs, path, kernel_shape=list(m.kernel_size),
                  strides=list(m.stride), dilations=list(m.dilation), pads=p + p,
                  output_padding=list(m.output_padding), group=m.groups)


def _ceil_mode(m, x, out) -> int:
    """ONNX's ceil_mode flag that reproduces PyTorch's output size.

    PyTorch drops a last window that would start in the right padding; ONNX's ceil
    rule keeps it. The sizes are fixed by the example, so where the two rules differ,
    PyTorch's size is exactly the floor-mode size: say floor then.
    """
    if not m.ceil_mode:
        return 0
    n = x.ndim - 2
    k, s, p = _tup(m.kernel_size, n), _tup(m.stride, n), _tup(m.padding, n)
    d = _tup(getattr(m, "dilation", 1), n)
    floor = [(i + 2 * pi - di * (ki - 1) - 1) // si + 1
             for i, ki, si, pi, di in zip(x.shape[2:], k, s, p, d)]
    return 0 if list(out.shape[2:]) == floor else 1


def _max_pool(g, m, x, out, path):
    if m.return_indices:
        raise UnsupportedModuleError(f"{_where(path, m)}: return_indices=True has no ONNX "
                                     "export (the graph returns a single tensor)")
    n = x.ndim - 2
    p = _tup(m.padding, n)
    return g.node("MaxPool", [x.name], path, kernel_shape=_tup(m.kernel_size, n),
                  strides=_tup(m.stride, n), pads=p + p, dilations=_tup(m.dilation, n),
                  ceil_mode=_ceil_mode(m, x, out))


def _avg_pool(g, m, x, out, path):
    if getattr(m, "divisor_override", None) is not None:
        raise UnsupportedModuleError(f"{_where(path, m)}: divisor_override has no ONNX "
                                     "equivalent")
    n = x.ndim - 2
    p = _tup(m.padding, n)
    return g.node("AveragePool", [x.name], path, kernel_shape=_tup(m.kernel_size, n),
                  strides=_tup(m.stride, n), pads=p + p, ceil_mode=_ceil_mode(m, x, out),
                  count_include_pad=int(m.count_include_pad))


def _adaptive(g, m, x, out, path):
    is_max = isinstance(m, P.AdaptiveMaxPool2d)  # AdaptiveMaxPool1d subclasses it
    if is_max and m.return_indices:
        raise UnsupportedModuleError(f"{_where(path, m)}: return_indices=True has no ONNX "
                                     "export")
    size_in = x.shape[2:]
    size_out = out.shape[2:]
    if all(s == 1 for s in size_out):
        return g.node("GlobalMaxPool" if is_max else "GlobalAveragePool", [x.name], path)
    if any(i % o for i, o in zip(size_in, size_out)):
        raise UnsupportedModuleError(
            f"{_where(path, m)}: adaptive pooling from {tuple(size_in)} to "
            f"{tuple(size_out)} has uneven windows; ONNX can express it only when each "
            "input size is a multiple of the output size (or the output size is 1)")
    # Equal windows: an ordinary pooling with kernel = stride = input // output.
    k = [i // o for i, o in zip(size_in, size_out)]
    return g.node("MaxPool" if is_max else "AveragePool", [x.name], path, kernel_shape=k,
                  strides=k)


def _batch_norm(g, m, x, out, path):
    if m.running_mean is None or m.running_var is None:
        raise UnsupportedModuleError(
            f"{_where(path, m)}: track_running_stats=False normalises with the statistics "
            "of each batch even in evaluation mode; ONNX BatchNormalization needs running "
            "statistics")
    dt = m.running_mean._data.dtype
    c = m.num_features
    scale = m.weight if m.weight is not None else np.ones(c, dt)
    bias = m.bias if m.bias is not None else np.zeros(c, dt)
    return g.node("BatchNormalization",
                  [x.name, g.const(scale, _join(path, "weight"), dt),
                   g.const(bias, _join(path, "bias"), dt),
                   g.const(m.running_mean, _join(path, "running_mean")),
                   g.const(m.running_var, _join(path, "running_var"))],
                  path, epsilon=float(m.eps))


def _layer_norm(g, m, x, out, path):
    shape = m.normalized_shape
    k = len(shape)
    dt = _float_dtype(x, m)
    if g.opset >= 17:
        scale = m.weight if m.weight is not None else np.ones(shape, dt)
        inputs = [x.name, g.const(scale, _join(path, "weight"), dt)]
        if m.bias is not None:
            inputs.append(g.const(m.bias, _join(path, "bias")))
        return g.node("LayerNormalization", inputs, path, axis=-k, epsilon=float(m.eps))
    # Before opset 17: (x - mean) / sqrt(var + eps) over the last k axes, by hand.
    axes = list(range(-k, 0))
    mean = g.node("ReduceMean", [x.name], path, axes=axes, keepdims=1)
    d = g.node("Sub", [x.name, mean], path)
    var = g.node("ReduceMean", [g.node("Mul", [d, d], path)], path, axes=axes, keepdims=1)
    std = g.node("Sqrt", [g.node("Add", [var, g.const(np.asarray(m.eps, dt), _join(path, "eps"))],
                                 path)], path)
    y = g.node("Div", [d, std], path)
    if m.weight is not None:
        y = g.node("Mul", [y, g.const(m.weight, _join(path, "weight"))], path)
    if m.bias is not None:
        y = g.node("Add", [y, g.const(m.bias, _join(path, "bias"))], path)
    return y


def _group_norm(g, m, x, out, path):
    # InstanceNormalization over (N, groups, rest) normalises each group of each sample;
    # the per-channel affine follows on the original shape.
    dt = _float_dtype(x, m)
    G = m.num_groups
    grouped = g.node("Reshape", [x.name, g.ints([0, G, -1], _join(path, "grouped_shape"))],
                     path)
    normed = g.node("InstanceNormalization",
                    [grouped, g.const(np.ones(G, dt), _join(path, "ones")),
                     g.const(np.zeros(G, dt), _join(path, "zeros"))], path, epsilon=float(m.eps))
    y = g.node("Reshape", [normed, g.node("Shape", [x.name], path)], path)
    per_channel = (m.num_channels,) + (1,) * (x.ndim - 2)
    if m.weight is not None:
        y = g.node("Mul", [y, g.const(m.weight._data.reshape(per_channel), _join(path, "weight"))],
                   path)
    if m.bias is not None:
        y = g.node("Add", [y, g.const(m.bias._data.reshape(per_channel), _join(path, "bias"))],
                   path)
    return y


def _unary(op):
    def convert(g, m, x, out, path):
        return g.node(op, [x.name], path)
    return convert


def _leaky_relu(g, m, x, out, path):
    return g.node("LeakyRelu", [x.name], path, alpha=float(m.negative_slope))


def _scalar(g, value, x, path, base):
    return g.const(np.asarray(value, x.tensor._data.dtype), _join(path, base))


def _softplus(g, m, x, out, path):
    beta, threshold = float(m.beta), float(m.threshold)
    bx = x.name if beta == 1.0 else g.node("Mul", [x.name, _scalar(g, beta, x, path, "beta")],
                                           path)
    y = g.node("Softplus", [bx], path)
    if beta != 1.0:
        y = g.node("Div", [y, _scalar(g, beta, x, path, "beta")], path)
    # Above the threshold PyTorch returns x itself. At the default threshold (20) the
    # two differ by less than exp(-20), below float32 resolution, so no Where is needed.
    if threshold < 20.0:
        big = g.node("Greater", [bx, _scalar(g, threshold, x, path, "threshold")], path)
        y = g.node("Where", [big, x.name, y], path)
    return y


def _gelu(g, m, x, out, path):
    if g.opset >= 20:
        return g.node("Gelu", [x.name], path, approximate=m.approximate)
    half = _scalar(g, 0.5, x, path, "half")
    one = _scalar(g, 1.0, x, path, "one")
    if m.approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.node("Mul", [g.node("Mul", [x.name, x.name], path), x.name], path)
        inner = g.node("Add", [x.name, g.node("Mul", [x3, _scalar(g, 0.044715, x, path, "c")],
                                              path)], path)
        t = g.node("Tanh", [g.node("Mul", [inner, _scalar(g, math.sqrt(2 / math.pi), x, path,
                                                            "sqrt_2_over_pi")], path)], path)
    else:
        # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.node("Erf", [g.node("Div", [x.name, _scalar(g, math.sqrt(2.0), x, path,
                                                           "sqrt_2")], path)], path)
    return g.node("Mul", [g.node("Mul", [x.name, half], path), g.node("Add", [t, one], path)],
                  path)


def _silu(g, m, x, out, path):
    return g.node("Mul", [x.name, g.node("Sigmoid", [x.name], path)], path)


def _softmax(op):
    def convert(g, m, x, out, path):
        # dim=None: PyTorch's legacy implicit choice, which nabla follows too.
        dim = m.dim if m.dim is not None else (0 if x.ndim in (0, 1, 3) else 1)
        return g.node(op, [x.name], path, axis=int(dim))
    return convert


def _reshape_to(g, x, out, path, m):
    """Reshape ``x`` to ``out``'s shape with the batch copied from the input (0 in ONNX's
    Reshape), so it stays dynamic; every other dimension is the example's."""
    target = list(out.shape)
    if g.dynamic:
        if x.batch_axis != 0:
            raise UnsupportedModuleError(
                f"{_where(path, m)}: cannot reshape with a dynamic batch when the batch is "
                "not the leading axis; use dynamic_batch=False")
        target[0] = 0
    return g.node("Reshape", [x.name, g.ints(target, _join(path, "shape"))], path)


def _flatten(g, m, x, out, path):
    nd = max(x.ndim, 1)
    start, end = m.start_dim % nd, m.end_dim % nd
    if start == 1 and end == nd - 1:
        return g.node("Flatten", [x.name], path, axis=1)
    if start == 0 and end == nd - 1:
        return g.node("Reshape", [x.name, g.ints([-1], _join(path, "shape"))], path)
    if start == 0:
        # The batch merges with the next axes: one -1 absorbs it, the rest are fixed.
        target = [-1, *out.shape[1:]]
        y = g.node("Reshape", [x.name, g.ints(target, _join(path, "shape"))], path)
        return _Value(y, out, None)
    return _reshape_to(g, x, out, path, m)


def _unflatten(g, m, x, out, path):
    dim = m.dim % max(x.ndim, 1)
    if dim == 0 and g.dynamic:
        raise UnsupportedModuleError(f"{_where(path, m)}: unflattening the batch dimension "
                                     "cannot keep the batch dynamic; use dynamic_batch=False")
    return _reshape_to(g, x, out, path, m)


def _identity(g, m, x, out, path):
    return x.name


def _embedding(g, m, x, out, path):
    if x.tensor._data.dtype.kind not in "iu":
        raise UnsupportedModuleError(f"{_where(path, m)}: expects integer ids, got "
                                     f"{x.tensor._data.dtype}")
    return g.node("Gather", [g.const(m.weight, _join(path, "weight")), x.name], path, axis=0)


# PyTorch stacks the gates of a recurrent layer as (i, f, g, o) for an LSTM and
# (r, z, n) for a GRU; ONNX wants (i, o, f, c) and (z, r, h). These are the PyTorch
# chunk indices in ONNX order.
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _gates(w: np.ndarray, mode: str) -> np.ndarray:
    chunks = np.split(w, len(_GATE_ORDER[mode]), axis=0)
    return np.concatenate([chunks[i] for i in _GATE_ORDER[mode]], axis=0)


def _recurrent(g, m, x, out, path):
    if x.ndim != 3:
        raise UnsupportedModuleError(f"{_where(path, m)}: ONNX export needs a batched "
                                     f"input (3-D), got shape {x.shape}")
    mode, H, dirs = m.mode, m.hidden_size, 2 if m.bidirectional else 1
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch: n = tanh(W_in x + r * (W_hn h + b_hn))
    if op == "RNN":
        attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * dirs
    # ONNX recurrent ops read (seq, batch, features); batch_first input is transposed.
    seq = g.node("Transpose", [x.name], path, perm=[1, 0, 2]) if m.batch_first else x.name
    h_parts, c_parts = [], []
    for layer in range(m.num_layers):
        sfx = [f"_l{layer}" + ("_reverse" if d else "") for d in range(dirs)]
        W = np.stack([_gates(getattr(m, "weight_ih" + s)._data, mode) for s in sfx])
        Rw = np.stack([_gates(getattr(m, "weight_hh" + s)._data, mode) for s in sfx])
        base = _join(path, f"l{layer}")
        inputs = [seq, g.const(W, base + ".W"), g.const(Rw, base + ".R")]
        if m.bias:
            B = np.stack([np.concatenate([_gates(getattr(m, "bias_ih" + s)._data, mode),
                                          _gates(getattr(m, "bias_hh" + s)._data, mode)])
                          for s in sfx])
            inputs.append(g.const(B, base + ".B"))
        outs = g.node(op, inputs, base, outputs=3 if op == "LSTM" else 2, **attrs)
        y = outs[0]  # (seq, dirs, batch, hidden)
        h_parts.append(outs[1])
        if op == "LSTM":
            c_parts.append(outs[2])
        if dirs == 1:
            seq = g.node("Squeeze", [y, g.ints([1], base + ".axis")], base)
        else:
            # PyTorch's output puts both directions side by side: (seq, batch, 2*hidden).
            t = g.node("Transpose", [y], base, perm=[0, 2, 1, 3])
            seq = g.node("Reshape", [t, g.ints([0, 0, -1], base + ".shape")], base)
    output = g.node("Transpose", [seq], path, perm=[1, 0, 2]) if m.batch_first else seq

    def stacked(parts, base):
        return parts[0] if len(parts) == 1 else g.node("Concat", parts, _join(path, base), axis=0)

    result, state = out
    value = _Value(output, result, 0 if m.batch_first else 1)
    if op == "LSTM":
        return value, (_Value(stacked(h_parts, "h_n"), state[0], 1),
                       _Value(stacked(c_parts, "c_n"), state[1], 1))
    return value, _Value(stacked(h_parts, "h_n"), state, 1)


_CONVERTERS = {
    L.Linear: _linear,
    C.Conv1d: _conv, C.Conv2d: _conv,
    C.ConvTranspose1d: _conv_transpose, C.ConvTranspose2d: _conv_transpose,
    P.MaxPool1d: _max_pool, P.MaxPool2d: _max_pool,
    P.AvgPool1d: _avg_pool, P.AvgPool2d: _avg_pool,
    P.AdaptiveAvgPool1d: _adaptive, P.AdaptiveAvgPool2d: _adaptive,
    P.AdaptiveMaxPool1d: _adaptive, P.AdaptiveMaxPool2d: _adaptive,
    N.BatchNorm1d: _batch_norm, N.BatchNorm2d: _batch_norm, N.BatchNorm3d: _batch_norm,
    N.LayerNorm: _layer_norm, N.GroupNorm: _group_norm,
    A.ReLU: _unary("Relu"), A.Sigmoid: _unary("Sigmoid"), A.Tanh: _unary("Tanh"),
    A.LeakyReLU: _leaky_relu, A.Softplus: _softplus, A.GELU: _gelu, A.SiLU: _silu,
    A.Softmax: _softmax("Softmax"), A.LogSoftmax: _softmax("LogSoftmax"),
    K.Flatten: _flatten, K.Unflatten: _unflatten, K.Identity: _identity,
    D.Dropout: _identity, C.Dropout1d: _identity, C.Dropout2d: _identity,
    E.Embedding: _embedding,
    R.RNN: _recurrent, R.LSTM: _recurrent, R.GRU: _recurrent,
}


def _converter(m: Module):
    """The converter of ``m``'s class, or of a base class when ``m`` only subclasses it
    without changing ``forward`` (a subclass with its own forward is unknown)."""
    for cls in type(m).__mro__:
        fn = _CONVERTERS.get(cls)
        if fn is not None:
            return fn if type(m).forward is cls.forward else None
    return None


# ------------------------------------------------------------------------- the walk

def _convert(g, m: Module, x, path: str):
    """Emit the nodes of module ``m`` applied to value ``x``; return its output value."""
    if isinstance(x, tuple):
        raise UnsupportedModuleError(
            f"{_where(path, m)} receives the (output, state) tuple of a recurrent layer; "
            "inside a Sequential a recurrent layer can only come last. Put it in a "
            "classifier module (see nabla.io.onnx) to use its last step")
    if isinstance(m, Sequential) and type(m).forward is Sequential.forward:
        for name, child in m.named_children():
            x = _convert(g, child, x, _join(path, name))
        return x
    fn = _converter(m)
    if fn is not None:
        out = m(x.tensor)
        y = fn(g, m, x, out, path)
        if isinstance(y, str):
            return _Value(y, out, x.batch_axis)
        return y
    if any(isinstance(c, R.RNNBase) for c in m.children()):
        return _rnn_classifier(g, m, x, path)
    raise UnsupportedModuleError(
        f"{_where(path, m)} has no ONNX mapping. export_onnx converts Sequential models of "
        f"the layers {', '.join(sorted({c.__name__ for c in _CONVERTERS}))} and "
        "recurrent classifiers (see nabla.io.onnx); export another model as a Sequential "
        "of those layers")


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and np.allclose(a._data, b._data, rtol=1e-5, atol=1e-6)


def _rnn_classifier(g, m: Module, x: _Value, path: str):
    """A module around one recurrent layer: layers before it, the layer, a selection
    of its last step or final state, the layers after it (see the module docstring)."""
    children = list(m.named_children())
    where = [i for i, (_, c) in enumerate(children) if isinstance(c, R.RNNBase)]
    if len(where) != 1:
        raise UnsupportedModuleError(f"{_where(path, m)} holds {len(where)} recurrent layers; "
                                     "export supports classifiers around exactly one")
    i = where[0]
    pre, (rname, rnn), post = children[:i], children[i], children[i + 1:]
    target = m(x.tensor)
    if not isinstance(target, Tensor):
        raise UnsupportedModuleError(f"{_where(path, m)} returns a {type(target).__name__}, "
                                     "not a tensor; export supports classifiers that return one")

    # Find, by running nabla, which input preparation and which selection of the
    # recurrent layer's result the module's forward performs.
    h = x.tensor
    for _, c in pre:
        h = c(h)
    adapters = [None]
    if rnn.batch_first and (h.ndim != 3 or h.shape[-1] != rnn.input_size) and \
            h.ndim >= 2 and math.prod(h.shape[1:]) % rnn.input_size == 0:
        adapters.append((h.shape[0], -1, rnn.input_size))
    dirs = 2 if rnn.bidirectional else 1
    selections = ["last_step", "h_n"] + (["h_n_both"] if dirs == 2 else [])
    found = None
    for adapt in adapters:
        seq = h if adapt is None else h.reshape(adapt)
        if seq.ndim != 3 or seq.shape[-1] != rnn.input_size:
            continue
        out, state = rnn(seq)
        h_n = state[0] if isinstance(state, tuple) else state
        for sel in selections:
            if sel == "last_step":
                z = out[:, -1] if rnn.batch_first else out[-1]
            elif sel == "h_n":
                z = h_n[-1]
            else:
                z = cat([h_n[-2], h_n[-1]], dim=1)
            try:
                for _, c in post:
                    z = c(z)
            except (ValueError, RuntimeError):  # a head that does not fit this candidate
                continue
            if isinstance(z, Tensor) and _close(z, target):
                found = adapt, sel
                break
        if found:
            break
    if found is None:
        raise UnsupportedModuleError(
            f"{_where(path, m)}: its forward is not one export can express: expected the "
            f"children in data-flow order with the head fed by the last time step "
            f"(out[:, -1]) or the final hidden state (h_n[-1]) of its {type(rnn).__name__}")
    adapt, sel = found

    # Emit it.
    for name, c in pre:
        x = _convert(g, c, x, _join(path, name))
    rpath = _join(path, rname)
    if adapt is not None:
        shape = [0, -1, rnn.input_size]  # 0: the batch, copied from the input
        y = g.node("Reshape", [x.name, g.ints(shape, rpath + ".input_shape")], rpath)
        x = _Value(y, x.tensor.reshape(adapt), x.batch_axis)
    out, state = _recurrent(g, rnn, x, rnn(x.tensor), rpath)
    h_n = state[0] if isinstance(state, tuple) else state
    if sel == "last_step":
        axis = 1 if rnn.batch_first else 0
        last = out.shape[axis] - 1
        z = g.node("Gather", [out.name, g.ints(last, rpath + ".last")], rpath, axis=axis)
        zt = out.tensor[:, -1] if rnn.batch_first else out.tensor[-1]
    else:
        n = h_n.shape[0]
        picks = [n - 1] if sel == "h_n" else [n - 2, n - 1]
        parts = [g.node("Gather", [h_n.name, g.ints(k, rpath + f".h{k}")], rpath, axis=0)
                 for k in picks]
        z = parts[0] if len(parts) == 1 else g.node("Concat", parts, rpath, axis=1)
        zt = cat([h_n.tensor[k] for k in picks], dim=1)
    x = _Value(z, zt, 0)
    for name, c in post:
        x = _convert(g, c, x, _join(path, name))
    return x


def _flat(value) -> list:
    if isinstance(value, tuple):
        return [v for item in value for v in _flat(item)]
    return [value]


def _value_info(helper, name: str, v: _Value, dynamic: bool):
    dims = list(v.shape)
    if dynamic:
        if v.batch_axis is not None:
            dims[v.batch_axis] = "batch"
        else:
            dims = [None] * len(dims)  # the batch is merged into some axis: unknown sizes
    return helper.make_tensor_value_info(
        name, helper.np_dtype_to_tensor_dtype(v.tensor._data.dtype), dims)


# Layers that keep the axes of their input where they are (the batch included).
_AXIS_PRESERVING = (D.Dropout, C.Dropout1d, C.Dropout2d, K.Identity, E.Embedding, A.ReLU,
                    A.Sigmoid, A.Tanh, A.LeakyReLU, A.Softplus, A.GELU, A.SiLU)


def _input_batch_axis(model: Module) -> int:
    """Where the batch is in the model's input: axis 1 when a sequence-first recurrent
    layer comes before any layer that needs it first, axis 0 otherwise."""
    for m in model.modules():
        if isinstance(m, R.RNNBase):
            return 0 if m.batch_first else 1
        if not list(m.children()) and not isinstance(m, _AXIS_PRESERVING):
            return 0
    return 0


def export_onnx(model: Module, example_input, path, input_names=("input",),
                output_names=("output",), opset: int = 17, dynamic_batch: bool = True,
                metadata: dict | None = None):
    """Export ``model`` to an ONNX file at ``path`` (written atomically) and return the
    ``onnx.ModelProto``.

    ``example_input`` (a Tensor or an array; integer ids for an ``Embedding`` first)
    fixes every dimension but the batch, which stays symbolic with ``dynamic_batch``.
    ``output_names`` names the graph's outputs: a recurrent layer exported alone has
    several (output, h_n[, c_n]); names not given are made up. ``metadata`` (str to
    str) goes into the model's ``metadata_props``. The model is checked with
    ``onnx.checker`` before it is written. A layer with no ONNX mapping raises
    :class:`UnsupportedModuleError` naming it.

    >>> import os, tempfile, numpy as np, nabla
    >>> from nabla import models, io
    >>> model = models.mlp(4, hidden=(8,), out_features=3)
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
    >>> proto = io.export_onnx(model, nabla.zeros(1, 4), path)
    >>> [n.op_type for n in proto.graph.node]
    ['Flatten', 'Gemm', 'Relu', 'Gemm']
    """
    onnx, helper, numpy_helper = _import_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export_onnx expects a nabla.nn.Module, got {type(model).__name__}")
    max_opset = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"opset must be an integer from {MIN_OPSET} to {max_opset} (the "
                         f"installed onnx's newest), got {opset!r}")
    if isinstance(input_names, str) or len(input_names) != 1:
        raise ValueError(f"input_names must name the model's one input, got {input_names!r}")
    if isinstance(output_names, str):
        output_names = (output_names,)
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata must map str to str, got {key!r}: {type(value).__name__}")
    x0 = as_tensor(example_input).detach()
    if x0.ndim == 0:
        raise ValueError("example_input must have a batch dimension, got a 0-d tensor")
    p = next(iter(model.parameters()), None)
    if p is not None and x0.is_floating_point() and p.is_floating_point() and \
            x0.dtype != p.dtype:
        # NumPy arrays are float64 by default; the graph's input must have the weights'
        # dtype, or ONNX's type check refuses the mixed graph.
        x0 = x0.to(p.dtype)

    g = _Graph(helper, numpy_helper, opset, dynamic_batch)
    g._taken.add(input_names[0])
    batch_axis = _input_batch_axis(model) if x0.ndim > 1 else 0
    source = _Value(input_names[0], x0, batch_axis)
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad():
            result = _convert(g, model, source, "")
            expected = model(x0)
    finally:
        for m, mode in modes:
            m.training = mode
    outputs, wanted = _flat(result), _flat(_structure(expected))
    if len(outputs) != len(wanted) or not all(
            isinstance(e, Tensor) and _close(v.tensor, e) for v, e in zip(outputs, wanted)):
        raise UnsupportedModuleError(
            f"{type(model).__name__}: the layer-by-layer walk does not reproduce the model's "
            "forward (does its forward do more than call its children in order?)")
    if len(output_names) > len(outputs):
        raise ValueError(f"{len(output_names)} output names for {len(outputs)} outputs")
    # A recurrent layer's extra outputs are its final states, named as PyTorch names them.
    defaults = ["output", "h_n", "c_n"]
    names = list(output_names) + [defaults[i] if i < 3 else f"output_{i}"
                                  for i in range(len(output_names), len(outputs))]
    graph_outputs = _bind_outputs(g, outputs, names, source.name)

    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [_value_info(helper, source.name, source, dynamic_batch)],
        [_value_info(helper, name, v, dynamic_batch) for name, v in graph_outputs],
        initializer=g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="nabla",
                              producer_version=_version())
    # The oldest IR version that carries this opset, so older runtimes can load it.
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto, full_check=True)
    atomic_write_bytes(path, proto.SerializeToString())
    return proto


def _structure(value):
    """nabla's output with lists as tuples, to compare with the walk's structure."""
    if isinstance(value, (tuple, list)):
        return tuple(_structure(v) for v in value)
    return value


def _bind_outputs(g, outputs: list, names: list, input_name: str) -> list:
    """Give the final values their public names: rename the node output where it is a
    node's own, else (the input itself, or one value twice) pass it through Identity."""
    bound, renamed = [], set()
    produced = {o for node in g.nodes for o in node.output}
    for v, name in zip(outputs, names):
        if name in g._taken and name != v.name:
            raise ValueError(f"output name {name!r} is already used in the graph")
        if v.name in produced and v.name not in renamed and v.name != input_name:
            for node in g.nodes:
                node.input[:] = [name if i == v.name else i for i in node.input]
                node.output[:] = [name if o == v.name else o for o in node.output]
            renamed.add(v.name)
            renamed.add(name)
        else:
            g.nodes.append(g.helper.make_node("Identity", [v.name], [name],
                                              name=g.fresh(f"{name}/Identity#node")))
        g._taken.add(name)
        bound.append((name, v))
    return bound


def _version() -> str:
    from .. import __version__

    return __version__


# -------------------------------------------------------------------------- command line

def _recorded_input_shape(model: Module, metadata: dict, model_file) -> tuple:
    """One sample's shape, from the data the model was trained on, its architecture
    record, or its first layer."""
    data = metadata.get("nabla_data")
    if data:
        try:
            shape = json.loads(data).get("input_shape")
        except (ValueError, AttributeError):
            shape = None
        if shape:
            return tuple(int(s) for s in shape)
    arch = getattr(model, "_nabla_arch", None) or {}
    kwargs = arch.get("kwargs", {}) if isinstance(arch, dict) else {}
    if isinstance(kwargs.get("in_features"), int):
        return (kwargs["in_features"],)
    first = next((m for m in model.modules() if _converter(m) is not None
                  and not isinstance(m, (K.Flatten, K.Identity, D.Dropout))), None)
    if isinstance(first, L.Linear):
        return (first.in_features,)
    raise ValueError(f"{model_file}: the file records no input shape; export from Python "
                     "with nabla.io.export_onnx(model, example_input, path)")


def export_main(model_file, onnx_path, input_shape=None, opset: int = 17) -> int:
    """``nabla export MODEL_FILE model.onnx``: rebuild the model saved in ``model_file``
    (``nabla.io.load_model``), build an example input of the recorded shape and export
    it. Returns the exit status; problems are reported as one line on stderr (set
    ``NABLA_DEBUG=1`` for the traceback).

    The graph's input is what the model takes: for models trained by ``nabla train``
    that is standardised data; the mean and std are copied into the ONNX metadata
    (``nabla_data``).
    """
    from ..creation import zeros
    from .checkpoint import load_model

    try:
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f"model file not found: {model_file}")
        model, metadata = load_model(model_file, return_metadata=True)
        shape = tuple(input_shape) if input_shape else _recorded_input_shape(
            model, metadata, model_file)
        # What the model is and how its inputs were prepared; not a checkpoint's
        # optimizer state, which means nothing to an ONNX runtime.
        keep = {k: metadata[k] for k in ("nabla_arch", "nabla_data", "nabla_train")
                if k in metadata}
        proto = export_onnx(model, zeros(1, *shape), onnx_path, opset=opset, metadata=keep)
    except (ImportError, ValueError, OSError, NotImplementedError) as e:
        if os.environ.get("NABLA_DEBUG"):
            raise
        print(f"nabla export: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    out = proto.graph.output[0]

    def dims(values) -> str:
        return "[" + ", ".join(str(v) for v in values) + "]"

    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    print(f"nabla export: wrote {onnx_path} (ONNX opset {opset}): input "
          f"'{proto.graph.input[0].name}' {dims(['batch', *shape])} float32 -> output "
          f"'{out.name}' {dims(out_dims)}")
    return 0
