"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells.

Each layer and direction of a sequence runs as ONE fused node
(``nabla.ops.recurrent``); this file only arranges them as PyTorch does: parameter
names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), gate layouts, the order of the
final states in ``h_n`` (layer by layer, forward before reverse), ``batch_first`` and
unbatched inputs. A PyTorch ``state_dict`` loads and gives the same outputs.

>>> import nabla
>>> lstm = LSTM(input_size=3, hidden_size=5, num_layers=2, batch_first=True)
>>> out, (h_n, c_n) = lstm(nabla.randn(4, 7, 3))
>>> out.shape, h_n.shape, c_n.shape
((4, 7, 5), (2, 4, 5), (2, 4, 5))
"""

from __future__ import annotations

import math

from ... import backend
from ...creation import empty
from ...functions import cat, stack
from ...ops import recurrent as R
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


class RNNBase(Module):
    """The machinery shared by ``RNN``, ``LSTM`` and ``GRU``; use those."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        backend.device(device)
        if proj_size:
            raise NotImplementedError("proj_size (LSTM with projections) is not supported")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(
                f"dropout should be a number in range [0, 1] representing the probability of "
                f"an element being zeroed, got {dropout!r}")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        gates = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = self.input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gates, layer_in)), ("weight_hh", (gates, hidden_size))]
                if self.bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's default: every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv, generator=generator)

    def flatten_parameters(self) -> None:
        """A no-op kept so PyTorch code runs unchanged (it packs weights for cuDNN)."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """Parameters grouped per layer and direction, as PyTorch's ``all_weights``."""
        k = 4 if self.bias else 2
        w = self._flat_weights
        return [w[i : i + k] for i in range(0, len(w), k)]

    # ----------------------------------------------------------------- checking
    def _check_input(self, input) -> bool:
        """Validate ``input``; return whether it carries a batch dimension."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got "
                            f"{type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{type(self).__name__}: Expected input to be 2D (unbatched: seq_len, "
                f"input_size) or 3D, got {input.ndim}D input of shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.shape[-1]} "
                f"(input shape {tuple(input.shape)})")
        if input.shape[0 if input.ndim == 2 or not self.batch_first else 1] == 0:
            raise ValueError(f"{type(self).__name__}: the sequence is empty "
                             f"(input shape {tuple(input.shape)})")
        return input.ndim == 3

    def _check_hidden(self, h, batch: int, batched: bool, name: str = "hidden") -> None:
        dirs = 2 if self.bidirectional else 1
        expected = (self.num_layers * dirs, batch, self.hidden_size)
        if not batched:
            expected = (expected[0], expected[2])
        if not isinstance(h, Tensor):
            raise TypeError(f"{type(self).__name__}: {name} state must be a Tensor, got "
                            f"{type(h).__name__}")
        if tuple(h.shape) != expected:
            raise ValueError(
                f"{type(self).__name__}: Expected {name} size {expected}, got "
                f"{_shape_str(h.shape)}")

    # ------------------------------------------------------------------ running
    def _run(self, input, states):
        """Run all layers and directions. ``states``: None or a tuple of initial-state
        tensors each ``(L*D, B, H)``; returns ``(output, tuple of final states)``."""
        batched = self._check_input(input)
        if not batched:
            input = input.unsqueeze(1)
            if states is not None:
                states = tuple(s.unsqueeze(1) for s in states)
        elif self.batch_first:
            input = input.transpose(0, 1)
        dirs = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        if self.mode == "LSTM":
            op, params = R.lstm_sequence, {}
        elif self.mode == "GRU":
            op, params = R.gru_sequence, {}
        else:
            op = R.rnn_sequence
            params = {"nonlinearity": "relu" if self.mode == "RNN_RELU" else "tanh"}
        weights = self._flat_weights
        k = 4 if self.bias else 2
        finals = [[] for _ in range(2 if lstm else 1)]
        x = input
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                idx = layer * dirs + d
                w = weights[idx * k : idx * k + k]
                b = (w[2], w[3]) if self.bias else (None, None)
                init_states = {}
                if states is not None:
                    init_states["h0"] = states[0][idx]
                    if lstm:
                        init_states["c0"] = states[1][idx]
                res = op(x, w[0], w[1], *b, reverse=bool(d), **init_states, **params)
                outs.append(res[0])
                for f, r in zip(finals, res[1:]):
                    f.append(r)
            x = outs[0] if dirs == 1 else cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        finals = tuple(f[0].unsqueeze(0) if len(f) == 1 else stack(f, 0) for f in finals)
        if not batched:
            return x.squeeze(1), tuple(f.squeeze(1) for f in finals)
        if self.batch_first:
            x = x.transpose(0, 1)
        return x, finals

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def forward(self, input, hx=None):
        """``(output, h_n)`` of a one-state cell (RNN, GRU); the LSTM has its own."""
        if hx is not None:
            self._check_hidden(hx, self._batch(input), input.ndim == 3)
            hx = (hx,)
        out, (h_n,) = self._run(input, hx)
        return out, h_n

    def _batch(self, input) -> int:
        if input.ndim != 3:
            return 1
        return input.shape[0 if self.batch_first else 1]


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ReLU),
    stacked ``num_layers`` deep, optionally bidirectional. As ``torch.nn.RNN``.

    ``rnn(input, h0=None)`` with ``input`` ``(T, B, input_size)`` (``(B, T, ...)`` if
    ``batch_first``, or ``(T, input_size)`` unbatched) returns ``(output, h_n)``:
    ``output`` ``(T, B, D*hidden_size)``, the last layer's states at every step, and
    ``h_n`` ``(D*num_layers, B, hidden_size)``, every layer's final state.

    >>> import nabla
    >>> rnn = RNN(4, 6, nonlinearity="relu", bidirectional=True)
    >>> out, h_n = rnn(nabla.randn(5, 2, 4))
    >>> out.shape, h_n.shape
    ((5, 2, 12), (2, 2, 6))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}': expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory, gates ``i, f, g, o`` as PyTorch:
    ``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``. As ``torch.nn.LSTM``.

    ``lstm(input, (h0, c0))`` (the states optional, zero by default) returns
    ``(output, (h_n, c_n))``.

    >>> import nabla
    >>> lstm = LSTM(28, 16, batch_first=True)
    >>> images = nabla.randn(8, 28, 28)        # each row of an image is one time step
    >>> out, (h_n, c_n) = lstm(images)
    >>> h_n[-1].shape                          # the last layer's final state, per image
    (8, 16)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h0, c0)")
            batch, batched = self._batch(input), input.ndim == 3
            self._check_hidden(hx[0], batch, batched, "hidden")
            self._check_hidden(hx[1], batch, batched, "cell")
            hx = tuple(hx)
        out, (h_n, c_n) = self._run(input, hx)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, gates ``r, z, n`` as PyTorch:
    ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h_t = (1-z)*n + z*h_{t-1}``.
    As ``torch.nn.GRU``; ``gru(input, h0=None)`` returns ``(output, h_n)``.

    >>> import nabla
    >>> gru = GRU(3, 4, num_layers=2)
    >>> out, h_n = gru(nabla.randn(6, 3))       # unbatched: (seq_len, input_size)
    >>> out.shape, h_n.shape
    ((6, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step of a recurrent layer; the cells below run the fused sequence op
    over a sequence of length one, so they share its tested gradients."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        backend.device(device)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        self.input_size = int(input_size)
        self.hidden_size = hidden_size
        self.bias = bool(bias)
        g = self._gates * hidden_size
        self.weight_ih = Parameter(empty(g, self.input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(g, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(g, dtype=dtype))
            self.bias_hh = Parameter(empty(g, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv, generator=generator)

    def _prepare(self, input, states):
        """Check shapes; return the input as a length-1 batched sequence, the states as
        ``(B, H)`` tensors (or None), and whether the input was batched."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D input "
                             f"of shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has inconsistent input_size: got "
                             f"{input.shape[-1]}, expected {self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        out = []
        for s in states:
            if s is None:
                out.append(None)
                continue
            if not isinstance(s, Tensor) or tuple(s.shape) != expected:
                got = _shape_str(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise ValueError(f"{name}: Expected hidden size {expected}, got {got}")
            out.append(s if batched else s.unsqueeze(0))
        return x.unsqueeze(0), out, batched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        return s + (f", nonlinearity={nl!r}" if nl != "tanh" else "")


def _unbatch(t, batched):
    return t if batched else t.squeeze(0)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    >>> import nabla
    >>> cell = RNNCell(3, 5)
    >>> h = cell(nabla.randn(2, 3))            # h defaults to zeros
    >>> cell(nabla.randn(2, 3), h).shape
    (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}': expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, (hx,))
        _, h_n = R.rnn_sequence(x, *self._weights(), h0=h, nonlinearity=self.nonlinearity)
        return _unbatch(h_n, batched)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(h', c') = cell(x, (h, c))``, gates ``i, f, g, o``.

    >>> import nabla
    >>> cell = LSTMCell(3, 5)
    >>> h, c = cell(nabla.randn(2, 3))
    >>> h, c = cell(nabla.randn(2, 3), (h, c))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    """

    _gates = 4

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c)")
        x, (h, c), batched = self._prepare(input, hx if hx is not None else (None, None))
        _, h_n, c_n = R.lstm_sequence(x, *self._weights(), h0=h, c0=c)
        return _unbatch(h_n, batched), _unbatch(c_n, batched)


class GRUCell(RNNCellBase):
    """One GRU step: ``h' = (1-z)*n + z*h``, gates ``r, z, n`` as PyTorch.

    >>> import nabla
    >>> cell = GRUCell(3, 5)
    >>> cell(nabla.randn(3)).shape            # unbatched
    (5,)
    """

    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, (hx,))
        _, h_n = R.gru_sequence(x, *self._weights(), h0=h)
        return _unbatch(h_n, batched)
