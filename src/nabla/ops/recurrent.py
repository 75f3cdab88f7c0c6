"""Fused recurrent primitives: a whole RNN, LSTM or GRU sequence (one layer, one
direction) as ONE node of the graph.

Written as a chain of per-step ops, a 28-step LSTM is hundreds of graph nodes and as
many temporaries. Fused, the forward pass

* computes the input half of every gate for all time steps with one matrix product,
  ``X @ W_ih.T + b`` over ``(T*B, I)``;
* loops over time steps only for what truly recurs: ``h @ W_hh.T`` and the gate
  nonlinearities, writing into preallocated ``(T, B, ...)`` buffers;

and the backward pass (backpropagation through time) loops once, backwards, doing
one small product per step for ``dh_{t-1} = dgates_t @ W_hh``, then gets ``dW_hh``,
``dW_ih``, ``dX`` and the biases with one matrix product (or sum) each over the
stacked per-step gate gradients.

Layout: ``x`` is time-major ``(T, B, I)``; weights and gates follow PyTorch exactly
(LSTM rows ``i, f, g, o``; GRU rows ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), so a PyTorch ``state_dict`` gives
the same numbers. ``Op.apply(x, w_ih, w_hh, [b_ih, b_hh], [h0, [c0]], reverse=...,
has_bias=..., has_state=...)``: optional inputs are left out, and the flags say which
are present. Outputs: ``(out, h_n)`` (RNN, GRU) or ``(out, h_n, c_n)`` (LSTM), with
``out`` of shape ``(T, B, H)`` in time order even when ``reverse`` is set.

Two tricks keep each step down to a handful of NumPy calls:

* ``sigmoid(a) = 0.5 * tanh(a / 2) + 0.5``. Forward scales the sigmoid rows of the
  weights by 0.5 (exact in floating point) so one ``tanh`` covers every gate of a step,
  and the LSTM forward keeps its gates internally as ``i, f, o, g`` so the sigmoid
  gates are contiguous.
* In backward, every factor that depends only on the forward activations (``o * (1 -
  tanh(c)^2)``, ``g * i * (1 - i)``, ...) is computed for all steps at once before the
  loop, leaving the loop with products against the running ``dh``/``dc`` only.

>>> import nabla
>>> T, B, I, H = 5, 2, 3, 4
>>> x = nabla.randn(T, B, I)
>>> w_ih, w_hh = nabla.randn(4 * H, I), nabla.randn(4 * H, H)
>>> out, h_n, c_n = lstm_sequence(x, w_ih, w_hh)
>>> out.shape, h_n.shape, c_n.shape
((5, 2, 4), (2, 4), (2, 4))
>>> bool((out[-1] == h_n).all())
True
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = [
    "RNNSequence",
    "LSTMSequence",
    "GRUSequence",
    "rnn_sequence",
    "lstm_sequence",
    "gru_sequence",
]


def _unpack(arrays, has_bias, has_state, n_state):
    """Split ``x, w_ih, w_hh, [b_ih, b_hh], [h0, (c0)]`` into its named parts."""
    x, w_ih, w_hh = arrays[:3]
    k = 3
    b_ih = b_hh = None
    if has_bias:
        b_ih, b_hh = arrays[3:5]
        k = 5
    states = arrays[k : k + n_state] if has_state else (None,) * n_state
    return x, w_ih, w_hh, b_ih, b_hh, states


def _steps(T, reverse):
    """Time indices in processing order, and the (prev, next) slots of a ``(T+1)``
    state buffer: forward keeps ``h_{t-1}`` at slot ``t`` and ``h_t`` at ``t+1``,
    reverse keeps ``h_{t+1}`` at ``t+1`` and ``h_t`` at ``t``. Either way the outputs
    and the previous states are contiguous slices of one buffer, with no copies."""
    if reverse:
        return range(T - 1, -1, -1), 1, 0
    return range(T), 0, 1


def _state_views(buf, reverse):
    """``(outputs, previous states)`` of a ``(T+1, ...)`` state buffer, both in time order."""
    return (buf[:-1], buf[1:]) if reverse else (buf[1:], buf[:-1])


def _init_state(buf, h0, reverse):
    slot = buf.shape[0] - 1 if reverse else 0
    if h0 is None:
        buf[slot] = 0
    else:
        buf[slot] = h0


def _param_grads(ctx, dg_x, dg_h, has_bias):
    """``dX, dW_ih, dW_hh, db_ih, db_hh``: one product (or sum) each over all steps.

    ``dg_x``/``dg_h``: ``(T*B, G)`` gradients of the input- and hidden-side
    pre-activations (the same array except for the GRU's n gate)."""
    x, w_ih, w_hh = ctx.saved_tensors[:3]
    needs = ctx.needs_input_grad
    dx = dw_ih = dw_hh = db_ih = db_hh = None
    if needs[0]:
        dx = (dg_x @ w_ih).reshape(x.shape)
    if needs[1]:
        dw_ih = dg_x.T @ ctx.x2d
    if needs[2]:
        dw_hh = dg_h.T @ ctx.h_prev.reshape(-1, ctx.h_prev.shape[-1])
    if has_bias:
        if needs[3]:
            db_ih = dg_x.sum(axis=0)
        if needs[4]:
            db_hh = dg_h.sum(axis=0) if dg_h is not dg_x else db_ih.copy()
    return [dx, dw_ih, dw_hh] + ([db_ih, db_hh] if has_bias else [])


def _x2d(x):
    T, B, I = x.shape
    return x.reshape(T * B, I)  # a view for contiguous x, else one copy kept for backward


class RNNSequence(Function):
    """Elman RNN over a sequence: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``."""

    @staticmethod
    def forward(ctx, *arrays, reverse=False, has_bias=True, has_state=False, nonlinearity="tanh"):
        x, w_ih, w_hh, b_ih, b_hh, (h0,) = _unpack(arrays, has_bias, has_state, 1)
        T, B, _ = x.shape
        H = w_hh.shape[0]
        x2d = _x2d(x)
        pre = x2d @ w_ih.T
        if has_bias:
            pre += b_ih + b_hh
        pre = pre.reshape(T, B, H)
        hbuf = np.empty((T + 1, B, H), dtype=pre.dtype)
        _init_state(hbuf, h0, reverse)
        w_hh_t = w_hh.T
        tmp = np.empty((B, H), dtype=pre.dtype)
        order, prev, nxt = _steps(T, reverse)
        relu = nonlinearity == "relu"
        for t in order:
            np.matmul(hbuf[t + prev], w_hh_t, out=tmp)
            a = pre[t]
            a += tmp
            if relu:
                np.maximum(a, 0, out=hbuf[t + nxt])
            else:
                np.tanh(a, out=hbuf[t + nxt])
        out, h_prev = _state_views(hbuf, reverse)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        ctx.x2d, ctx.h_prev, ctx.reverse, ctx.has_bias, ctx.relu = (
            x2d, h_prev, reverse, has_bias, relu)
        return out, hbuf[T if not reverse else 0].copy()

    @staticmethod
    def backward(ctx, dout, dh_n):
        w_hh, out = ctx.saved_tensors[2:4]
        T, B, H = out.shape
        # The activation's derivative from its output, for all steps at once.
        if ctx.relu:
            deriv = (out > 0).astype(out.dtype)
        else:
            deriv = out * out
            np.subtract(1, deriv, out=deriv)
        dpre = np.empty_like(out)
        dh = np.array(dh_n, dtype=out.dtype, copy=True)
        order, _, _ = _steps(T, ctx.reverse)
        for t in reversed(order):
            dh += dout[t]
            np.multiply(dh, deriv[t], out=dpre[t])
            np.matmul(dpre[t], w_hh, out=dh)
        dpre2d = dpre.reshape(T * B, H)
        grads = _param_grads(ctx, dpre2d, dpre2d, ctx.has_bias)
        return tuple(grads) + ((dh,) if len(ctx.needs_input_grad) > len(grads) else ())


class LSTMSequence(Function):
    """LSTM over a sequence, PyTorch's gates ``i, f, g, o``:
    ``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``."""

    @staticmethod
    def forward(ctx, *arrays, reverse=False, has_bias=True, has_state=False):
        x, w_ih, w_hh, b_ih, b_hh, (h0, c0) = _unpack(arrays, has_bias, has_state, 2)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        dt = np.result_type(x, w_ih)
        # Internal gate order i, f, o, g with the sigmoid rows halved: one tanh per step
        # then serves all four gates (sigmoid(a) = 0.5 tanh(a/2) + 0.5).
        perm = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]
        scale = np.ones(4 * H, dtype=dt)
        scale[: 3 * H] = 0.5
        w_ih_s = w_ih[perm] * scale[:, None]
        w_hh_s_t = (w_hh[perm] * scale[:, None]).T
        x2d = _x2d(x)
        gates = x2d @ w_ih_s.T
        if has_bias:
            gates += (b_ih + b_hh)[perm] * scale
        gates = gates.reshape(T, B, 4 * H)
        hbuf = np.empty((T + 1, B, H), dtype=dt)
        cbuf = np.empty((T + 1, B, H), dtype=dt)
        tanh_c = np.empty((T, B, H), dtype=dt)
        _init_state(hbuf, h0, reverse)
        _init_state(cbuf, c0, reverse)
        tmp4 = np.empty((B, 4 * H), dtype=dt)
        tmp = np.empty((B, H), dtype=dt)
        order, prev, nxt = _steps(T, reverse)
        H3 = 3 * H
        for t in order:
            a = gates[t]
            np.matmul(hbuf[t + prev], w_hh_s_t, out=tmp4)
            a += tmp4
            np.tanh(a, out=a)
            s = a[:, :H3]
            s *= 0.5
            s += 0.5
            c = cbuf[t + nxt]
            np.multiply(a[:, H : 2 * H], cbuf[t + prev], out=c)  # f * c_prev
            np.multiply(a[:, :H], a[:, H3:], out=tmp)  # i * g
            c += tmp
            np.tanh(c, out=tanh_c[t])
            np.multiply(a[:, 2 * H : H3], tanh_c[t], out=hbuf[t + nxt])  # o * tanh(c)
        out, h_prev = _state_views(hbuf, reverse)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        ctx.x2d, ctx.h_prev, ctx.gates, ctx.tanh_c = x2d, h_prev, gates, tanh_c
        ctx.c_prev = _state_views(cbuf, reverse)[1]
        ctx.reverse, ctx.has_bias = reverse, has_bias
        last = 0 if reverse else T
        return out, hbuf[last].copy(), cbuf[last].copy()

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        w_hh, out = ctx.saved_tensors[2:4]
        T, B, H = out.shape
        a = ctx.gates.reshape(T, B, 4, H)  # internal order i, f, o, g (activated)
        i, f, o, g = a[:, :, 0], a[:, :, 1], a[:, :, 2], a[:, :, 3]
        tc = ctx.tanh_c
        # Factors from forward values only, for all steps at once (see module docstring).
        # k_ifg multiplies dc to give the pre-activation grads of i, f, g (PyTorch order).
        k_ifg = np.empty((T, B, 3, H), dtype=out.dtype)
        np.multiply(g, i * (1 - i), out=k_ifg[:, :, 0])
        np.multiply(ctx.c_prev, f * (1 - f), out=k_ifg[:, :, 1])
        np.multiply(i, 1 - g * g, out=k_ifg[:, :, 2])
        k_o = tc * o * (1 - o)  # multiplies dh to give o's pre-activation grad
        k_c = o * (1 - tc * tc)  # multiplies dh to give its share of dc
        f = np.ascontiguousarray(f)

        dgates = np.empty((T, B, 4, H), dtype=out.dtype)  # PyTorch order i, f, g, o
        dh = np.array(dh_n, dtype=out.dtype, copy=True)
        dc = np.array(dc_n, dtype=out.dtype, copy=True)
        tmp = np.empty((B, H), dtype=out.dtype)
        dc3 = dc[:, None, :]
        order, _, _ = _steps(T, ctx.reverse)
        for t in reversed(order):
            dh += dout[t]
            np.multiply(dh, k_c[t], out=tmp)
            dc += tmp
            dg = dgates[t]
            np.multiply(dc3, k_ifg[t], out=dg[:, :3])
            np.multiply(dh, k_o[t], out=dg[:, 3])
            dc *= f[t]
            np.matmul(dg.reshape(B, 4 * H), w_hh, out=dh)
        dg2d = dgates.reshape(T * B, 4 * H)
        grads = _param_grads(ctx, dg2d, dg2d, ctx.has_bias)
        if len(ctx.needs_input_grad) > len(grads):
            grads += [dh, dc]
        return tuple(grads)


class GRUSequence(Function):
    """GRU over a sequence, PyTorch's gates ``r, z, n``:
    ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h_t = (1-z)*n + z*h_{t-1}``."""

    @staticmethod
    def forward(ctx, *arrays, reverse=False, has_bias=True, has_state=False):
        x, w_ih, w_hh, b_ih, b_hh, (h0,) = _unpack(arrays, has_bias, has_state, 1)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        H2 = 2 * H
        dt = np.result_type(x, w_ih)
        # r and z are sigmoids: halve their rows so that tanh + affine gives them.
        scale = np.ones(3 * H, dtype=dt)
        scale[:H2] = 0.5
        x2d = _x2d(x)
        gx = x2d @ (w_ih * scale[:, None]).T
        w_hh_s_t = (w_hh * scale[:, None]).T
        b_hn = None
        if has_bias:
            bx = b_ih.astype(dt, copy=True)
            bx[:H2] += b_hh[:H2]  # r and z see both biases outside any product
            gx += bx * scale
            b_hn = b_hh[H2:]
        gx = gx.reshape(T, B, 3 * H)
        gh = np.empty((T, B, 3 * H), dtype=dt)
        hbuf = np.empty((T + 1, B, H), dtype=dt)
        _init_state(hbuf, h0, reverse)
        tmp = np.empty((B, H), dtype=dt)
        order, prev, nxt = _steps(T, reverse)
        for t in order:
            h = hbuf[t + prev]
            ght = gh[t]
            np.matmul(h, w_hh_s_t, out=ght)
            hn = ght[:, H2:]  # W_hn h + b_hn, kept for backward
            if b_hn is not None:
                hn += b_hn
            a = gx[t]
            rz = a[:, :H2]
            rz += ght[:, :H2]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            n = a[:, H2:]
            np.multiply(a[:, :H], hn, out=tmp)
            n += tmp
            np.tanh(n, out=n)
            np.subtract(h, n, out=tmp)
            tmp *= a[:, H:H2]
            np.add(n, tmp, out=hbuf[t + nxt])  # n + z * (h - n)
        out, h_prev = _state_views(hbuf, reverse)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        ctx.x2d, ctx.h_prev, ctx.gates, ctx.gh = x2d, h_prev, gx, gh
        ctx.reverse, ctx.has_bias = reverse, has_bias
        return out, hbuf[0 if reverse else T].copy()

    @staticmethod
    def backward(ctx, dout, dh_n):
        w_hh, out = ctx.saved_tensors[2:4]
        T, B, H = out.shape
        a = ctx.gates.reshape(T, B, 3, H)
        r, z, n = a[:, :, 0], a[:, :, 1], a[:, :, 2]
        hn = ctx.gh.reshape(T, B, 3, H)[:, :, 2]
        # k multiplies the step's dh to give the hidden-side pre-activation grads r, z, n.
        k_n = (1 - z) * (1 - n * n)  # dh -> d(pre-activation of n)
        k = np.empty((T, B, 3, H), dtype=out.dtype)
        np.multiply(k_n * hn, r * (1 - r), out=k[:, :, 0])
        np.multiply(ctx.h_prev - n, z * (1 - z), out=k[:, :, 1])
        np.multiply(k_n, r, out=k[:, :, 2])
        z = np.ascontiguousarray(z)

        dgh = np.empty((T, B, 3, H), dtype=out.dtype)
        dh_all = np.empty((T, B, H), dtype=out.dtype)
        carry = np.array(dh_n, dtype=out.dtype, copy=True)
        tmp = np.empty((B, H), dtype=out.dtype)
        order, _, _ = _steps(T, ctx.reverse)
        for t in reversed(order):
            dh = dh_all[t]
            np.add(carry, dout[t], out=dh)
            np.multiply(dh[:, None, :], k[t], out=dgh[t])
            np.matmul(dgh[t].reshape(B, 3 * H), w_hh, out=carry)
            np.multiply(dh, z[t], out=tmp)
            carry += tmp
        # The input side differs from the hidden side only in n (no factor r there).
        dgx = dgh.copy()
        np.multiply(dh_all, k_n, out=dgx[:, :, 2])
        grads = _param_grads(
            ctx, dgx.reshape(T * B, 3 * H), dgh.reshape(T * B, 3 * H), ctx.has_bias)
        if len(ctx.needs_input_grad) > len(grads):
            grads.append(carry)
        return tuple(grads)


def _apply(op, x, w_ih, w_hh, b_ih, b_hh, states, reverse, **params):
    if (b_ih is None) != (b_hh is None):
        raise ValueError("pass both b_ih and b_hh, or neither")
    has_state = states[0] is not None
    if has_state and any(s is None for s in states):
        raise ValueError("pass all initial states (h0 and c0 for an LSTM), or none")
    tensors = [x, w_ih, w_hh]
    if b_ih is not None:
        tensors += [b_ih, b_hh]
    if has_state:
        tensors += list(states)
    dt = x.dtype
    for t in tensors[1:]:
        if t.dtype != dt:
            raise TypeError(
                f"recurrent layer: input has dtype {dt} but a weight or state has {t.dtype}; "
                "convert one of them (e.g. module.double() or x.float())"
            )
    return op.apply(
        *tensors, reverse=reverse, has_bias=b_ih is not None, has_state=has_state, **params
    )


def rnn_sequence(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, nonlinearity="tanh",
                 reverse=False):
    """One layer, one direction of an Elman RNN over a time-major sequence ``(T, B, I)``.

    Returns ``(out, h_n)``: all hidden states ``(T, B, H)`` in time order and the last
    one computed, ``(B, H)``.

    >>> import nabla
    >>> out, h_n = rnn_sequence(nabla.ones(3, 1, 2), nabla.zeros(4, 2), nabla.zeros(4, 4))
    >>> out.shape, h_n.tolist()
    ((3, 1, 4), [[0.0, 0.0, 0.0, 0.0]])
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}: expected 'tanh' or 'relu'")
    return _apply(RNNSequence, x, w_ih, w_hh, b_ih, b_hh, (h0,), reverse,
                  nonlinearity=nonlinearity)


def lstm_sequence(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, c0=None, reverse=False):
    """One layer, one direction of an LSTM over a time-major sequence ``(T, B, I)``.

    Returns ``(out, h_n, c_n)``.

    >>> import nabla
    >>> x = nabla.zeros(2, 1, 3)
    >>> out, h_n, c_n = lstm_sequence(x, nabla.zeros(8, 3), nabla.zeros(8, 2))
    >>> c_n.tolist()  # i = f = o = 0.5, g = 0: nothing is ever written to the cell
    [[0.0, 0.0]]
    """
    return _apply(LSTMSequence, x, w_ih, w_hh, b_ih, b_hh, (h0, c0), reverse)


def gru_sequence(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, reverse=False):
    """One layer, one direction of a GRU over a time-major sequence ``(T, B, I)``.

    Returns ``(out, h_n)``.

    >>> import nabla
    >>> out, h_n = gru_sequence(nabla.zeros(2, 1, 3), nabla.zeros(6, 3), nabla.zeros(6, 2),
    ...                         h0=nabla.ones(1, 2))
    >>> h_n.tolist()  # z = 0.5, n = 0: the state halves at each step
    [[0.25, 0.25]]
    """
    return _apply(GRUSequence, x, w_ih, w_hh, b_ih, b_hh, (h0,), reverse)
