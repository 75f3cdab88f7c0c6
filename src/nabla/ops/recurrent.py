"""Fused recurrent primitives: a whole RNN, LSTM or GRU sequence (one layer, one
direction) as ONE node of the graph.

Written as a chain of per-step ops, a 28-step LSTM is hundreds of graph nodes and as
many temporaries. Fused, the forward pass

* computes the input half of every gate for all time steps at once,
  ``W_ih x_t + b`` (the bias rides along as an extra input column of ones); the LSTM
  instead multiplies ``[W_hh | W_ih | b]`` by ``[h_{t-1}; x_t; 1]``, one product a
  step, its inputs laid out beside the states beforehand;
* loops over time steps only for what truly recurs: ``W_hh h_{t-1}`` and the gate
  nonlinearities, writing into preallocated ``(T, ...)`` buffers;

and the backward pass (backpropagation through time) loops once, backwards, doing
one small product per step for ``dh_{t-1} = W_hh^T dgates_t``, then gets
``[dW_hh | dW_ih | db]`` with ONE matrix product over the stacked per-step gate
gradients (two for the GRU, whose input and hidden sides differ), and ``dX`` with one.

Interface: ``x`` is time-major ``(T, B, I)``; weights and gates follow PyTorch exactly
(LSTM rows ``i, f, g, o``; GRU rows ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), so a PyTorch ``state_dict`` gives
the same numbers. ``Op.apply(x, w_ih, w_hh, [b_ih, b_hh], [h0, [c0]], reverse=...,
has_bias=..., has_state=...)``: optional inputs are left out, and the flags say which
are present. Outputs: ``(out, h_n)`` (RNN, GRU) or ``(out, h_n, c_n)`` (LSTM), with
``out`` of shape ``(T, B, H)`` in time order even when ``reverse`` is set.

What keeps a step cheap (measured on the 2-core development machine, where the
per-step matrix product is ~60% of the time and NumPy call overhead most of the rest):

* Inside, states and gates are feature-major, ``(H, B)`` and ``(G, B)`` per step, so
  every gate is a contiguous block: NumPy's ufuncs ran 3-5x slower on the strided
  column slices that the PyTorch layout ``(B, G)`` gives.
* ``sigmoid(a) = 0.5 * tanh(a / 2) + 0.5``. Forward scales the sigmoid rows of the
  weights by 0.5 (exact in floating point) so one ``tanh`` covers every gate of a step;
  the LSTM keeps its gates internally as ``i, f, o, g`` so the sigmoid ones are adjacent.
* In backward, every factor that depends only on the forward activations (``o * (1 -
  tanh(c)^2)``, ``g * i * (1 - i)``, ...) is computed for all steps at once before the
  loop, leaving the loop with products against the running ``dh``/``dc`` only.
* Buffers are reused across calls (``_empty``): fresh multi-megabyte arrays cost page
  faults on every call.
* With Numba installed, a float32 LSTM takes the compiled path instead
  (``lstm_compiled``): the batch in parts on threads, each part's whole sequence one
  compiled call. The NumPy passes here stay the reference it is tested against.

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
from ..workspace import _unshared as _empty
from . import lstm_compiled

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
    """Write the initial state ``h0`` (``(B, H)``, or zeros if None) into its slot of a
    feature-major state buffer ``(T+1, H, B)``."""
    slot = buf.shape[0] - 1 if reverse else 0
    if h0 is None:
        buf[slot] = 0
    else:
        buf[slot] = h0.T


def _input_projection(x, w, bias, scale=None, perm=None):
    """``W x_t + b`` for every step ``t`` at once: ``(T, G, B)``, feature-major per step.

    The bias rides along as one more input column of ones, so the product adds it for
    free (and in backward the same product yields the bias gradient). ``perm`` and
    ``scale`` reorder and scale the rows of ``[W | b]`` first. Returns the projection
    and the augmented, transposed input ``(T, I[+1], B)`` kept for backward.
    """
    T, B, I = x.shape
    dt = np.result_type(x, w)
    k = I if bias is None else I + 1
    xt = _empty((T, k, B), dt)
    np.copyto(xt[:, :I], x.transpose(0, 2, 1))
    wa = _empty((w.shape[0], k), dt)
    wa[:, :I] = w if perm is None else w[perm]
    if bias is not None:
        xt[:, I] = 1
        wa[:, I] = bias if perm is None else bias[perm]
    if scale is not None:
        wa *= scale
    out = _empty((T, w.shape[0], B), dt)
    np.matmul(wa, xt, out=out)  # T products of (G, k) @ (k, B): no transposes afterwards
    return out, xt


def _scaled(w, scale, perm=None):
    """``w[perm] * scale`` into a reused buffer."""
    out = _empty(w.shape, np.result_type(w, scale))
    if perm is None:
        np.multiply(w, scale, out=out)
    else:
        np.take(w, perm, axis=0, out=out, mode="clip")
        out *= scale
    return out


def _mm(a, b):
    """``a @ b`` into a reused buffer (for results that are only read, then dropped)."""
    out = _empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    np.matmul(a, b, out=out)
    return out


def _time_major(states):
    """Per-step feature-major states ``(T, H, B)`` as the ``(T, B, H)`` output."""
    T, H, B = states.shape
    out = _empty((T, B, H), states.dtype)
    np.copyto(out, states.transpose(0, 2, 1))
    return out


def _step_major(dout):
    """The output gradient ``(T, B, H)`` as per-step ``(H, B)`` blocks, or None when there
    is none or it is all zeros (only the final state was used, as in classifiers)."""
    if dout is None or not dout.any():
        return None
    T, B, H = dout.shape
    out = _empty((T, H, B), dout.dtype)
    np.copyto(out, dout.transpose(0, 2, 1))
    return out


def _state_grad(d, shape, dtype):
    """The gradient of a final state ``(B, H)`` as a fresh feature-major ``(H, B)`` array;
    zeros when it got none (the ops take None: ``materialize_grads = False``)."""
    if d is None:
        return np.zeros(shape[1:], dtype)
    return np.array(d.T, dtype=dtype, order="C")


def _rows(*blocks):
    """Stack per-step blocks ``(T, R_k, B)`` (or None for a row of ones) into one
    contiguous ``(sum R_k, T*B)`` matrix: the operand of a product over all steps.
    A single block that is such a matrix already passes through."""
    if len(blocks) == 1 and blocks[0] is not None and blocks[0].ndim == 2:
        return blocks[0]
    T, _, B = next(b.shape for b in blocks if b is not None)
    n = sum(1 if b is None else b.shape[1] for b in blocks)
    out = _empty((n, T, B), next(b.dtype for b in blocks if b is not None))
    r = 0
    for b in blocks:
        if b is None:
            out[r] = 1
            r += 1
        else:
            np.copyto(out[r : r + b.shape[1]], b.transpose(1, 0, 2))
            r += b.shape[1]
    return out.reshape(n, T * B)


def _split(dw, H, I, has_bias):
    """``[dW_hh | dW_ih | db]`` columns of one product, as separate contiguous arrays."""
    parts = [dw[:, :H].copy(), dw[:, H : H + I].copy()]
    return parts + ([dw[:, H + I].copy()] if has_bias else [])


def _param_grads(ctx, dg_x, dg_h):
    """``[dX, dW_ih, dW_hh, (db_ih, db_hh)]`` from the per-step gradients ``(T, G, B)`` of
    the input- and hidden-side pre-activations (one array unless the cell is a GRU).

    When both sides share the gradient, ``[dW_hh | dW_ih | db] = dG @ [H_prev; X; 1]^T``
    is ONE product over all steps; the GRU needs two."""
    x, w_ih, w_hh = ctx.saved_tensors[:3]
    needs = ctx.needs_input_grad
    has_bias = ctx.has_bias
    H, I = w_hh.shape[1], w_ih.shape[1]
    dgh = _rows(dg_h)
    dgx = dgh if dg_x is dg_h else _rows(dg_x)
    dx = dw_ih = dw_hh = db_ih = db_hh = None
    if needs[0]:
        dx = (dgx.T @ w_ih).reshape(x.shape)
    if any(needs[1:]):
        if dg_x is dg_h:
            dw = _mm(dgh, _rows(ctx.h_prev, ctx.xt).T)
            dw_hh, dw_ih, *db = _split(dw, H, I, has_bias)
            if has_bias:
                db_ih, db_hh = db[0], db[0].copy()
        else:
            hh = _mm(dgh, _rows(ctx.h_prev, *([None] if has_bias else [])).T)
            dw_hh = hh[:, :H].copy()
            xx = _mm(dgx, _rows(ctx.xt).T)
            dw_ih = xx[:, :I].copy()
            if has_bias:
                db_hh, db_ih = hh[:, H].copy(), xx[:, I].copy()
    return [dx, dw_ih, dw_hh] + ([db_ih, db_hh] if has_bias else [])


class RNNSequence(Function):
    """Elman RNN over a sequence: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``."""

    materialize_grads = False  # unused outputs come as None: no zeros to make

    @staticmethod
    def forward(ctx, *arrays, reverse=False, has_bias=True, has_state=False, nonlinearity="tanh"):
        x, w_ih, w_hh, b_ih, b_hh, (h0,) = _unpack(arrays, has_bias, has_state, 1)
        T, B, _ = x.shape
        H = w_hh.shape[0]
        pre, xt = _input_projection(x, w_ih, b_ih + b_hh if has_bias else None)
        dt = pre.dtype
        hbuf = _empty((T + 1, H, B), dt)
        _init_state(hbuf, h0, reverse)
        mm = _empty((H, B), dt)
        order, prev, nxt = _steps(T, reverse)
        relu = nonlinearity == "relu"
        for t in order:
            np.matmul(w_hh, hbuf[t + prev], out=mm)
            h = hbuf[t + nxt]
            np.add(pre[t], mm, out=h)
            if relu:
                np.maximum(h, 0, out=h)
            else:
                np.tanh(h, out=h)
        out_fm, h_prev = _state_views(hbuf, reverse)
        out = _time_major(out_fm)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        ctx.xt, ctx.h_prev, ctx.out_fm = xt, h_prev, out_fm
        ctx.reverse, ctx.has_bias, ctx.relu = reverse, has_bias, relu
        return out, hbuf[0 if reverse else T].T.copy()

    @staticmethod
    def backward(ctx, dout, dh_n):
        w_hh = ctx.saved_tensors[2]
        out = ctx.out_fm
        T, H, B = out.shape
        # The activation's derivative from its output, for all steps at once.
        deriv = _empty((T, H, B), out.dtype)
        if ctx.relu:
            np.greater(out, 0, out=deriv)
        else:
            np.multiply(out, out, out=deriv)
            np.subtract(1, deriv, out=deriv)
        dout_fm = _step_major(dout)
        dpre = _empty((T, H, B), out.dtype)
        dh = _state_grad(dh_n, out.shape, out.dtype)
        w_hh_t = w_hh.T
        order, _, _ = _steps(T, ctx.reverse)
        for t in reversed(order):
            if dout_fm is not None:
                dh += dout_fm[t]
            np.multiply(dh, deriv[t], out=dpre[t])
            np.matmul(w_hh_t, dpre[t], out=dh)
        grads = _param_grads(ctx, dpre, dpre)
        if len(ctx.needs_input_grad) > len(grads):
            grads.append(dh.T.copy())
        return tuple(grads)


class LSTMSequence(Function):
    """LSTM over a sequence, PyTorch's gates ``i, f, g, o``:
    ``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``."""

    materialize_grads = False  # unused outputs come as None: no zeros to make

    @staticmethod
    def forward(ctx, *arrays, reverse=False, has_bias=True, has_state=False):
        x, w_ih, w_hh, b_ih, b_hh, (h0, c0) = _unpack(arrays, has_bias, has_state, 2)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        H2, H3 = 2 * H, 3 * H
        dt = np.result_type(x, w_ih)
        # Internal gate order i, f, o, g with the sigmoid rows halved: one tanh per step
        # then serves all four gates (sigmoid(a) = 0.5 tanh(a/2) + 0.5).
        perm = np.r_[0:H2, H3 : 4 * H, H2:H3]
        scale = np.ones((4 * H, 1), dtype=dt)
        scale[:H3] = 0.5
        bias = b_ih + b_hh if has_bias else None
        # One product a step for both halves of the gates: [W_hh | W_ih | b] times
        # z_t = [h_{t-1}; x_t; 1]. Slot s of zbuf holds a state in its first H rows and,
        # where a step reads it, that step's input below. On the benchmark (28 steps,
        # hidden 128, batch 64) this replaced an input projection over all steps (T
        # small products) and an add per step: forward 3.4-3.7 -> 3.1-3.2 ms.
        I = x.shape[2]
        K = H + I + (bias is not None)
        w_all = _empty((4 * H, K), dt)
        np.take(w_hh, perm, axis=0, out=w_all[:, :H], mode="clip")
        np.take(w_ih, perm, axis=0, out=w_all[:, H:H + I], mode="clip")
        if bias is not None:
            w_all[:, H + I] = bias[perm]
        w_all *= scale
        kern = lstm_compiled.kernels(dt)
        if kern is not None:
            outs, ctx.parts = lstm_compiled.forward(kern, x, w_all, h0, c0, reverse)
            ctx.save_for_backward(x, w_ih, w_hh, outs[0])
            ctx.reverse, ctx.has_bias = reverse, has_bias
            return outs
        ctx.parts = None
        order, prev, nxt = _steps(T, reverse)
        zbuf = _empty((T + 1, K, B), dt)
        steps_z = zbuf[prev:T + prev]  # z_t of step t, in time order
        np.copyto(steps_z[:, H:H + I], x.transpose(0, 2, 1))
        if bias is not None:
            steps_z[:, H + I] = 1
        hbuf = zbuf[:, :H]
        gates = _empty((T, 4 * H, B), dt)
        cbuf = _empty((T + 1, H, B), dt)
        tanh_c = _empty((T, H, B), dt)
        _init_state(hbuf, h0, reverse)
        _init_state(cbuf, c0, reverse)
        tmp = _empty((H, B), dt)
        # With no initial state given, the first step's c is zero: no f * c term.
        zero_start = h0 is None
        for t in order:
            a = gates[t]
            np.matmul(w_all, zbuf[t + prev], out=a)
            np.tanh(a, out=a)
            c = cbuf[t + nxt]
            s = a[:H3]
            s *= 0.5
            s += 0.5
            if zero_start:
                np.multiply(a[:H], a[H3:], out=c)  # i * g
                zero_start = False
            else:
                np.multiply(a[H:H2], cbuf[t + prev], out=c)  # f * c_prev
                np.multiply(a[:H], a[H3:], out=tmp)  # i * g
                c += tmp
            np.tanh(c, out=tanh_c[t])
            np.multiply(a[H2:H3], tanh_c[t], out=hbuf[t + nxt])  # o * tanh(c)
        out_fm, h_prev = _state_views(hbuf, reverse)
        out = _time_major(out_fm)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        xt = steps_z[:, H:]  # x_t (and the row of ones) of every step
        ctx.xt, ctx.h_prev, ctx.gates, ctx.tanh_c = xt, h_prev, gates, tanh_c
        ctx.c_prev = _state_views(cbuf, reverse)[1]
        ctx.out_fm = out_fm
        ctx.reverse, ctx.has_bias = reverse, has_bias
        last = 0 if reverse else T
        return out, hbuf[last].T.copy(), cbuf[last].T.copy()

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        x, w_ih, w_hh = ctx.saved_tensors[:3]
        # dh and dc of the initial state are only wanted when it was given and needs a
        # gradient: else the last step skips its product.
        n_grads = 5 if ctx.has_bias else 3
        needs = ctx.needs_input_grad
        want_state = len(needs) > n_grads and any(needs[n_grads:])
        if ctx.parts is not None:
            dx, dw, dh0, dc0 = lstm_compiled.backward(
                ctx.parts, ctx.reverse, x, w_ih, w_hh, dout, dh_n, dc_n, needs[0],
                want_state)
            dw_hh, dw_ih, *db = _split(dw, w_hh.shape[1], w_ih.shape[1], ctx.has_bias)
            grads = [dx, dw_ih, dw_hh] + ([db[0], db[0].copy()] if ctx.has_bias else [])
            if len(needs) > len(grads):
                grads += [dh0, dc0]
            return tuple(grads)
        T, _, B = ctx.gates.shape
        H = w_hh.shape[1]
        H2, H3, G = 2 * H, 3 * H, 4 * H
        dt = ctx.gates.dtype
        a = ctx.gates  # (T, 4H, B), internal order i, f, o, g, activated
        dout_fm = _step_major(dout)
        # The per-step gradients, stacked as the rows of the weight-gradient product
        # (PyTorch order i, f, g, o), filled chunk by chunk below.
        rows = _empty((G, T, B), dt)
        dh = _state_grad(dh_n, ctx.tanh_c.shape, dt)
        dc = _state_grad(dc_n, ctx.tanh_c.shape, dt)
        n = min(T, _CHUNK)
        dgates = _empty((n, G, B), dt)
        w_hh_t = w_hh.T
        order, _, _ = _steps(T, ctx.reverse)
        last = order[0]  # the last step backward reaches
        # Multipliers from forward values only (see the module docstring): k_ifg times dc
        # gives the pre-activation grads of i, f, g; k_o times dh gives o's; k_c times dh
        # gives dh's share of dc. Made for a chunk of steps at a time, just before the
        # loop uses them, so that they are still in cache (one pass over all steps at once
        # read and wrote from memory: 0.9 ms -> 0.5 ms per step of the benchmark).
        k_ifg = _empty((n, H3, B), dt)
        k_o = _empty((n, H, B), dt)
        k_c = _empty((n, H, B), dt)
        tmp = _empty((n, H, B), dt)
        tmp1 = tmp[0]
        for lo in range(0, T, n):
            hi = min(lo + n, T)
            m = hi - lo
            if not ctx.reverse:  # forward in time: backward runs the chunks from the end
                lo, hi = T - hi, T - lo
            _lstm_factors(a[lo:hi], ctx.c_prev[lo:hi], ctx.tanh_c[lo:hi],
                          ctx.out_fm[lo:hi], k_ifg[:m], k_o[:m], k_c[:m], tmp[:m])
            f = a[lo:hi, H:H2]
            steps = range(m - 1, -1, -1) if not ctx.reverse else range(m)
            for j in steps:
                t = lo + j
                if dout_fm is not None:
                    dh += dout_fm[t]
                dg = dgates[j]
                np.multiply(dh, k_c[j], out=tmp1)
                dc += tmp1
                np.multiply(dc, k_ifg[j].reshape(3, H, B), out=dg[:H3].reshape(3, H, B))
                np.multiply(dh, k_o[j], out=dg[H3:])
                if t != last or want_state:
                    dc *= f[j]
                    np.matmul(w_hh_t, dg, out=dh)
            np.copyto(rows[:, lo:hi], dgates[:m].transpose(1, 0, 2))  # while in cache
        rows = rows.reshape(G, T * B)
        grads = _param_grads(ctx, rows, rows)
        if len(needs) > len(grads):
            grads += [dh.T.copy(), dc.T.copy()] if want_state else [None, None]
        return tuple(grads)


_CHUNK = 4  # steps per chunk of the LSTM's backward: its buffers (~0.5 MB a step) fit L2


def _lstm_factors(a, c_prev, tc, h, k_ifg, k_o, k_c, tmp):
    """The LSTM backward's per-step multipliers for a chunk of steps (all ``(n, ., B)``):
    ``k_ifg = [g i(1-i), c_prev f(1-f), i(1-g^2)]``, ``k_o = o(1-o) tanh(c)``,
    ``k_c = o(1-tanh(c)^2)``, rewritten through ``h = o tanh(c)`` and ``gi = g i`` to take
    12 passes instead of 15: ``k_o = h - h o``, ``k_c = o - h tanh(c)``,
    ``k_i = gi - gi i``, ``k_g = i - gi g``, ``k_f = cf - cf f`` with ``cf = c_prev f``."""
    H = tc.shape[1]
    i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    k_i, k_f, k_g = k_ifg[:, :H], k_ifg[:, H : 2 * H], k_ifg[:, 2 * H :]
    np.multiply(h, o, out=k_o)
    np.subtract(h, k_o, out=k_o)
    np.multiply(h, tc, out=k_c)
    np.subtract(o, k_c, out=k_c)
    np.multiply(g, i, out=tmp)  # gi
    np.multiply(tmp, g, out=k_g)
    np.subtract(i, k_g, out=k_g)
    np.multiply(tmp, i, out=k_i)
    np.subtract(tmp, k_i, out=k_i)
    np.multiply(c_prev, f, out=tmp)  # cf
    np.multiply(tmp, f, out=k_f)
    np.subtract(tmp, k_f, out=k_f)


class GRUSequence(Function):
    """GRU over a sequence, PyTorch's gates ``r, z, n``:
    ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h_t = (1-z)*n + z*h_{t-1}``."""

    materialize_grads = False  # unused outputs come as None: no zeros to make

    @staticmethod
    def forward(ctx, *arrays, reverse=False, has_bias=True, has_state=False):
        x, w_ih, w_hh, b_ih, b_hh, (h0,) = _unpack(arrays, has_bias, has_state, 1)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        H2 = 2 * H
        dt = np.result_type(x, w_ih)
        # r and z are sigmoids: halve their rows so that tanh + affine gives them.
        scale = np.ones((3 * H, 1), dtype=dt)
        scale[:H2] = 0.5
        w_hh_s = _scaled(w_hh, scale)
        b_hn = bias = None
        if has_bias:
            bias = b_ih.astype(dt, copy=True)
            bias[:H2] += b_hh[:H2]  # r and z see both biases outside any product
            b_hn = b_hh[H2:, None]
        gates, xt = _input_projection(x, w_ih, bias, scale)  # (T, 3H, B): r, z, n
        hn_all = _empty((T, H, B), dt)  # W_hn h + b_hn, kept for backward
        hbuf = _empty((T + 1, H, B), dt)
        _init_state(hbuf, h0, reverse)
        mm = _empty((3 * H, B), dt)
        tmp = _empty((H, B), dt)
        order, prev, nxt = _steps(T, reverse)
        for t in order:
            h = hbuf[t + prev]
            np.matmul(w_hh_s, h, out=mm)
            hn = hn_all[t]
            if b_hn is None:
                np.copyto(hn, mm[H2:])
            else:
                np.add(mm[H2:], b_hn, out=hn)
            a = gates[t]
            rz = a[:H2]
            rz += mm[:H2]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            n = a[H2:]
            np.multiply(a[:H], hn, out=tmp)
            n += tmp
            np.tanh(n, out=n)
            np.subtract(h, n, out=tmp)
            tmp *= a[H:H2]
            np.add(n, tmp, out=hbuf[t + nxt])  # n + z * (h - n)
        out_fm, h_prev = _state_views(hbuf, reverse)
        out = _time_major(out_fm)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        ctx.xt, ctx.h_prev, ctx.gates, ctx.hn = xt, h_prev, gates, hn_all
        ctx.reverse, ctx.has_bias = reverse, has_bias
        return out, hbuf[0 if reverse else T].T.copy()

    @staticmethod
    def backward(ctx, dout, dh_n):
        w_hh = ctx.saved_tensors[2]
        T, _, B = ctx.gates.shape
        H = w_hh.shape[1]
        H2 = 2 * H
        dt = ctx.gates.dtype
        a = ctx.gates
        r, z, n = a[:, :H], a[:, H:H2], a[:, H2:]
        # k multiplies the step's dh to give the hidden-side pre-activation grads r, z, n;
        # k_n gives n's input-side one (no factor r there).
        k_n = _empty((T, H, B), dt)
        tmp = _empty((T, H, B), dt)
        z_c = _empty((T, H, B), dt)
        k = _empty((T, 3 * H, B), dt)
        np.subtract(1, z, out=k_n)
        np.multiply(n, n, out=tmp)
        np.subtract(1, tmp, out=tmp)
        k_n *= tmp
        np.subtract(1, r, out=tmp)
        tmp *= r
        tmp *= ctx.hn
        np.multiply(k_n, tmp, out=k[:, :H])
        np.subtract(1, z, out=tmp)
        tmp *= z
        np.subtract(ctx.h_prev, n, out=k[:, H:H2])
        k[:, H:H2] *= tmp
        np.multiply(k_n, r, out=k[:, H2:])
        np.copyto(z_c, z)
        dout_fm = _step_major(dout)

        dgh = _empty((T, 3 * H, B), dt)
        dh_all = _empty((T, H, B), dt)
        carry = _state_grad(dh_n, (T, H, B), dt)
        tmp = tmp[0]
        w_hh_t = w_hh.T
        order, _, _ = _steps(T, ctx.reverse)
        for t in reversed(order):
            dh = dh_all[t]
            if dout_fm is None:
                np.copyto(dh, carry)
            else:
                np.add(carry, dout_fm[t], out=dh)
            np.multiply(dh, k[t].reshape(3, H, B), out=dgh[t].reshape(3, H, B))
            np.matmul(w_hh_t, dgh[t], out=carry)
            np.multiply(dh, z_c[t], out=tmp)
            carry += tmp
        # The input side differs from the hidden side only in n (no factor r there).
        dgx = _empty((T, 3 * H, B), dt)
        np.copyto(dgx[:, :H2], dgh[:, :H2])
        np.multiply(dh_all, k_n, out=dgx[:, H2:])
        grads = _param_grads(ctx, dgx, dgh)
        if len(ctx.needs_input_grad) > len(grads):
            grads.append(carry.T.copy())
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
