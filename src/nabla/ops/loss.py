"""Fused loss primitives: each loss is one graph node, forward and backward side by side.

A loss written from smaller ops (log_softmax, gather, mean) leaves several nodes and
full-size temporaries per step; as one primitive it does one pass forward and one
allocation backward. ``reduction`` is ``"mean"``, ``"sum"`` or ``"none"`` throughout;
the argument checking lives in ``nabla.nn.functional``, which calls these.

>>> import numpy as np, nabla
>>> x = nabla.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
>>> loss = ClassNLL.apply(x, np.array([0]), None, -100, 0.0, "mean", True)
>>> round(loss.item(), 4)
0.1698
>>> loss.backward(); x.grad
tensor([[-0.1563,  0.1142,  0.0420]])
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..autograd import ones_vector as _ones
from ..row_picks import ColumnBlocks, RowPicks
from ..threads import BIG, split_rows, zeros
from . import softmax_linear
from .activation import (
    LogSoftmax,
    _big_rows,
    _compiled_float32,
    _finite_shift,
    by_row_blocks,
    linear_below,
    through_row_view,
)
from .activation import row_max as _row_max


def _div(a, b):
    """``a / b``, giving nan or inf quietly where ``b`` is 0 (a mean over nothing, as in
    PyTorch); np.errstate is only entered then, since it costs more than the division."""
    if b:
        return a / b
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / b


def _scale(g, denom, weight=None):
    """The upstream gradient per sample: ``g / denom`` for mean, ``g`` otherwise; times
    the per-element ``weight`` where one is given."""
    scale = g if denom is None else _div(g, denom)
    return scale if weight is None else scale * weight


def _float_scale(g, denom):
    """``_scale`` of a reduced loss's one-element gradient as a Python number, since 0-d
    array arithmetic costs ~1 us a call; None for a mean over nothing (``_scale`` then
    gives the nan or inf)."""
    if denom is None:
        return float(g)
    return float(g) / denom if denom else None


def _to_rows(x):
    """View ``x`` (class dim 1, or 0 for 1-D input) as ``(M, C)`` rows; also returns what
    ``_from_rows`` needs to put a ``(M, C)`` gradient back into ``x``'s layout."""
    if x.ndim == 2:
        return x, None
    if x.ndim == 1:
        return x[None], x.shape
    moved = np.moveaxis(x, 1, -1)
    return moved.reshape(-1, x.shape[1]), moved.shape


def _from_rows(grad, moved_shape):
    if moved_shape is None:
        return grad
    if len(moved_shape) == 1:
        return grad[0]
    return np.moveaxis(grad.reshape(moved_shape), -1, 1)


def _from_log_softmax(x):
    """True where NLL's input ``x`` is log_softmax's output over a big array's last axis
    (the row blocks' case), itself or reshaped with that axis kept (``.view(-1,
    ntokens)``): that backward takes NLL's gradient as ``RowPicks``."""
    x = through_row_view(x)
    if x is None:
        return False
    fn = x.grad_fn
    if type(fn) is not LogSoftmax or getattr(fn, "axis", None) != x.ndim - 1:
        return False  # (no axis: released)
    out = fn.saved_tensors[0]  # x's own array may be gone (graph_memory.free_consumed)
    return _big_rows(out, out.ndim - 1)


def _log_softmax_rows(x2):
    """Row-wise ``(softmax, shifted, log_se)`` with one exp pass: ``shifted = x - max``
    and ``log_se = log(sum(exp(shifted)))``, so ``log_softmax = shifted - log_se``.
    The max is never added back: at a large common offset (1e7 in float32) ``log_se +
    max`` would round away the small differences the loss is made of."""
    m = _row_max(x2)
    if not np.isfinite(m).all():
        m = _finite_shift(m)  # rows of all -inf: avoid inf - inf; +inf: NaN, as PyTorch
    shifted = np.subtract(x2, m)
    e = np.exp(shifted)
    se = e.sum(axis=1, keepdims=True)
    e /= se
    return e, shifted, np.log(se[:, 0])


def _xent_rows(x2, t, rows, e, loss):
    """Into ``e`` the softmax of the logit rows ``x2``, into ``loss`` each row's
    cross-entropy against the class indices ``t`` (``rows``: ``arange(len(x2))``)."""
    np.subtract(x2, _row_max(x2), e)
    picked = e[rows, t]  # x[t] - max, read before exp overwrites it (one call, not three)
    np.exp(e, e)
    se = e.dot(_ones(x2.shape[1], e.dtype))  # row sums as a BLAS product: 1.9 -> 0.6 us
    # log(sum(exp(x - max))) - (x[t] - max): adding max to the log-sum first would lose
    # the loss to rounding when the logits share a large offset.
    np.log(se, loss)
    loss -= picked
    e /= se[:, None]


def _softmax_xent(ctx, x2, t, reduction):
    """Cross-entropy of logits ``x2`` (M, C) against class indices ``t``, mean or sum,
    nothing weighted, ignored or smoothed: the common case, in ten NumPy calls where the
    general path takes over twenty (16 -> 7 us for 64x10). Returns None when a value
    is not finite (a row of -inf, an inf or nan): the general path then handles it.

    A big ``x2`` goes by blocks of rows that pass through all of ``_xent_rows`` while in
    L2, on the threads (``activation.by_row_blocks``): 700 rows of a 33278-word
    vocabulary, forward 61 -> 23 ms."""
    m, c = x2.shape
    rows = np.arange(m)
    e = np.empty(x2.shape, x2.dtype)
    loss = np.empty(m, x2.dtype)
    if _big_rows(x2, 1):
        if (k := _compiled_float32(x2)) is not None:  # two passes a row instead of six
            def block(i, j, _):
                k.softmax_xent_rows(x2[i:j], x2[i:j].max(axis=1), t[i:j], e[i:j], loss[i:j])
        else:
            def block(i, j, _):
                _xent_rows(x2[i:j], t[i:j], rows[:j - i], e[i:j], loss[i:j])

        by_row_blocks(block, m, c, x2.dtype, scratch=False)
    else:
        _xent_rows(x2, t, rows, e, loss)
    total = loss.sum()
    if not math.isfinite(total):
        return None
    ctx.p, ctx.t, ctx.rows, ctx.w_y, ctx.valid, ctx.weight = e, t, rows, None, None, None
    ctx.eps, ctx.reduction, ctx.moved, ctx.logits = 0.0, reduction, None, True
    ctx.in_shape = x2.shape
    ctx.denom = m if reduction == "mean" else None
    if reduction == "mean":
        total = _div(total, m)
    return np.asarray(total, dtype=x2.dtype)


class ClassNLL(Function):
    """Negative log-likelihood of class indices, optionally fused with log_softmax.

    ``forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction, logits)``:
    ``x`` holds logits (``logits=True``: cross-entropy) or log-probabilities (NLL);
    ``target`` an integer array; ``weight`` a per-class array or None; ``ignore_index``
    the class index to skip, or None when no target is to be skipped. Per sample
    ``i`` (not ignored), with ``eps = label_smoothing`` and ``C`` classes::

        loss_i = -(1 - eps) * w[y_i] * logp[i, y_i] - eps / C * sum_c w[c] * logp[i, c]

    and ``mean`` divides the sum by ``sum_i w[y_i]`` over non-ignored samples, exactly as
    PyTorch. For logits the gradient is ``s_i * softmax_i - q_i`` where ``q_i`` is the
    weighted smoothed one-hot row and ``s_i`` its sum: ``softmax - onehot`` when
    nothing is weighted, ignored or smoothed.
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, eps, reduction, logits):
        if (ignore_index is None and logits and weight is None and not eps
                and reduction != "none" and x.ndim == 2):
            out = _softmax_xent(ctx, x, target, reduction)
            if out is not None:
                return out
        x2, moved = _to_rows(x)
        t = target.reshape(-1)
        m, c = x2.shape
        dt = x.dtype
        rows = np.arange(m)
        valid = None if ignore_index is None else t != ignore_index
        if valid is None or valid.all():
            valid = None
            t_safe = t
        else:
            t_safe = np.where(valid, t, 0)
        if logits:
            p, shifted, lse = _log_softmax_rows(x2)
            logp_t = shifted[rows, t_safe] - lse
        else:
            p = lse = shifted = None
            logp_t = x2[rows, t_safe]
        simple = weight is None and valid is None and not eps
        if simple:
            w_y = None
            loss = -logp_t
            denom = m
        else:
            if weight is not None:
                w_y = weight[t_safe].astype(dt, copy=False)
                if valid is not None:
                    w_y = w_y * valid
            else:
                w_y = np.ones(m, dtype=dt) if valid is None else valid.astype(dt)
            loss = -w_y * logp_t
            if eps:
                # sum_c w_c logp_ic, from the logits without forming logp: x @ w - lse * sum(w)
                if logits:
                    if weight is None:
                        smooth = shifted.sum(axis=1) - c * lse
                    else:
                        smooth = shifted @ weight - lse * weight.sum()
                else:
                    smooth = x2.sum(axis=1) if weight is None else x2 @ weight
                if valid is not None:
                    smooth = smooth * valid
                loss = (1 - eps) * loss - (eps / c) * smooth
            denom = w_y.sum()
        ctx.p, ctx.t, ctx.w_y, ctx.valid, ctx.weight = p, t_safe, w_y, valid, weight
        ctx.eps, ctx.reduction, ctx.moved, ctx.logits = eps, reduction, moved, logits
        ctx.rows = rows
        ctx.in_shape = x2.shape
        if reduction == "none":
            ctx.denom = None
            return loss.astype(dt, copy=False).reshape(target.shape)
        total = loss.sum()
        if reduction == "sum":
            ctx.denom = None
            return np.asarray(total, dtype=dt)
        ctx.denom = denom
        return np.asarray(_div(total, denom), dtype=dt)

    @staticmethod
    def backward(ctx, g):
        m, c = ctx.in_shape
        rows, t, w_y, eps = ctx.rows, ctx.t, ctx.w_y, ctx.eps
        per_sample = ctx.reduction == "none"
        scale = None
        if ctx.logits and w_y is None and not per_sample:
            scale = _float_scale(g, ctx.denom)
        if scale is not None:  # softmax - onehot, scaled
            p = ctx.p
            if p.size < BIG:
                grad = p * scale
                grad[rows, t] -= scale
                return _from_rows(grad, ctx.moved)
            s = p.dtype.type(scale)

            def dense():  # a big vocabulary's: the product in parts on the threads
                grad = np.empty(p.shape, p.dtype)
                split_rows(lambda lo, hi: np.multiply(p[lo:hi], s, out=grad[lo:hi]), p)
                grad[rows, t] -= scale
                return grad

            if ctx.moved is None and softmax_linear.takes(linear_below(ctx.inputs[0]), p.dtype):
                def fill(j, res):  # the columns [j, j + w) of dense()'s, the same operations
                    np.multiply(p[:, j:j + res.shape[1]], s, out=res)
                    hit = (t >= j) & (t < j + res.shape[1])
                    res[rows[hit], t[hit] - j] -= scale

                return ColumnBlocks(p.shape, p.dtype, fill, dense)  # ops/softmax_linear.py
            return _from_rows(dense(), ctx.moved)
        scale = _scale(g, ctx.denom)
        if per_sample:
            scale = scale.reshape(-1)
        if ctx.logits:
            p = ctx.p
            if w_y is None:
                # softmax - onehot, scaled: the whole backward of the common case.
                grad = p * (scale[:, None] if per_sample else scale)
                grad[rows, t] -= scale
            else:
                weight, valid = ctx.weight, ctx.valid
                wsum = c if weight is None else weight.sum()
                valid_f = 1 if valid is None else valid
                s = (1 - eps) * w_y + (eps / c) * wsum * valid_f
                grad = p * (scale * s)[:, None]
                grad[rows, t] -= scale * (1 - eps) * w_y
                if eps:
                    k = (scale * (eps / c) * valid_f) * np.ones(m, dtype=p.dtype)
                    grad -= k[:, None] * (1 if weight is None else weight)
        else:
            picked = -scale if w_y is None else -scale * w_y
            if not eps and ctx.moved is None and _from_log_softmax(ctx.inputs[0]):
                # A language model's: the picks alone (see row_picks.py), not 93 MB
                # of zeros for log_softmax's backward to read.
                values = np.empty(m, g.dtype)
                values[:] = picked  # as the dense array's assignment casts it
                return RowPicks(t, values, (m, c))
            # RowPicks.dense(), inline: 1.3 against 2.2 us for a small NLL (64 x 10).
            grad = zeros(ctx.in_shape, g.dtype)  # in parts on the threads when big
            grad[rows, t] = picked
            if eps:
                weight, valid = ctx.weight, ctx.valid
                valid_f = 1 if valid is None else valid
                k = (scale * (eps / c) * valid_f) * np.ones(m, dtype=g.dtype)
                grad *= 1 - eps
                grad -= k[:, None] * (1 if weight is None else weight)
        return _from_rows(grad, ctx.moved)


class SoftCrossEntropy(Function):
    """Cross-entropy against class probabilities (soft targets), from logits.

    ``forward(ctx, x, target, weight, label_smoothing, reduction)``; both ``x`` and
    ``target`` are inputs (the target may need a gradient). With
    ``q = (target * (1 - eps) + eps / C) * w``: ``loss_i = -sum_c q_ic logp_ic``;
    ``mean`` divides by the number of samples. d/dx = ``sum_c(q_i) softmax_i - q_i``.
    """

    @staticmethod
    def forward(ctx, x, target, weight, eps, reduction):
        x2, moved = _to_rows(x)
        t2 = _to_rows(target)[0]
        c = x2.shape[1]
        p, shifted, lse = _log_softmax_rows(x2)
        logp = shifted - lse[:, None]
        q = t2 * (1 - eps) + eps / c if eps else t2
        if weight is not None:
            q = q * weight
        loss = -np.einsum("ij,ij->i", q, logp)
        ctx.p, ctx.logp, ctx.q, ctx.weight, ctx.eps = p, logp, q, weight, eps
        ctx.moved, ctx.reduction = moved, reduction
        m = x2.shape[0]
        if reduction == "none":
            ctx.denom = None
            out_shape = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
            return loss.astype(x.dtype, copy=False).reshape(out_shape)
        ctx.denom = None if reduction == "sum" else m
        total = loss.sum() if reduction == "sum" else _div(loss.sum(), m)
        return np.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        scale = _scale(g, ctx.denom)
        scale = scale.reshape(-1, 1) if ctx.reduction == "none" else scale
        nx, nt = ctx.needs_input_grad
        gx = gt = None
        if nx:
            q = ctx.q
            gx = (ctx.p * q.sum(axis=1, keepdims=True) - q) * scale
            gx = _from_rows(gx, ctx.moved)
        if nt:
            gt = -(1 - ctx.eps) * ctx.logp * scale
            if ctx.weight is not None:
                gt = gt * ctx.weight
            gt = _from_rows(gt, ctx.moved)
        return gx, gt


def _reduce(loss, reduction, dtype):
    if reduction == "none":
        return loss.astype(dtype, copy=False), None
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=dtype), None
    return np.asarray(_div(loss.sum(), loss.size), dtype=dtype), loss.size


class Pointwise(Function):
    """Regression losses of the residual ``d = input - target``, elementwise then reduced.

    ``forward(ctx, input, target, kind, param, reduction)`` with ``kind`` one of
    ``"mse"`` (d²), ``"l1"`` (|d|), ``"huber"`` (``param`` = delta) and
    ``"smooth_l1"`` (``param`` = beta). ``reduction="sum"`` of ``"mse"`` is the sum of
    squared residuals.
    """

    @staticmethod
    def forward(ctx, a, b, kind, param, reduction):
        d = a - b
        # d is the op's own temporary, not an input or output that could be changed in
        # place: kept as a plain attribute, so no version check is set up for it.
        ctx.kind, ctx.param, ctx.reduction, ctx.d = kind, param, reduction, d
        dt = d.dtype
        if kind == "mse":
            if reduction != "none":
                # vdot: the sum of squares in one BLAS pass, no d*d temporary.
                flat = d.reshape(-1)
                total = np.vdot(flat, flat)
                ctx.denom = d.size if reduction == "mean" else None
                out = _div(total, d.size) if reduction == "mean" else total
                return np.asarray(out, dtype=dt)
            loss = d * d
        elif kind == "l1":
            loss = np.abs(d)
        elif kind == "huber":
            ad = np.abs(d)
            loss = np.where(ad < param, 0.5 * d * d, param * (ad - 0.5 * param))
        else:  # smooth_l1
            ad = np.abs(d)
            if param == 0:
                loss = ad
            else:
                loss = np.where(ad < param, 0.5 * d * d / param, ad - 0.5 * param)
        out, ctx.denom = _reduce(loss, reduction, dt)
        return out

    @staticmethod
    def backward(ctx, g):
        d, kind, param = ctx.d, ctx.kind, ctx.param
        na, nb = ctx.needs_input_grad
        s = _float_scale(g, ctx.denom) if kind == "mse" and g.ndim == 0 else None
        if s is not None:  # a reduced loss (s is rounded to d's dtype as it multiplies d)
            ga = d * (2.0 * s)
            return (ga if na else None), (-ga if nb else None)
        scale = _scale(g, ctx.denom)
        if kind == "mse":
            ga = d * (2 * scale)
        elif kind == "l1":
            ga = np.sign(d) * scale
        elif kind == "huber":
            ga = np.clip(d, -param, param) * scale
        elif param == 0:
            ga = np.sign(d) * scale
        else:
            ga = np.where(np.abs(d) < param, d / param, np.sign(d)) * scale
        return (ga if na else None), (-ga if nb else None)


# PyTorch's floor on x(1-x) in the BCE gradient is 1e-12 rounded to float32; using the
# same number makes the (huge) gradients at x = 0 or 1 agree to the last digit.
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """``-w (y log x + (1 - y) log(1 - x))`` on probabilities, logs clamped at -100.

    ``forward(ctx, x, y, weight, reduction)``; gradients as PyTorch's:
    d/dx = ``w (x - y) / max(x (1 - x), 1e-12)``, d/dy = ``-w logit(x)``.
    """

    @staticmethod
    def forward(ctx, x, y, weight, reduction):
        with np.errstate(divide="ignore", invalid="ignore"):
            logx = np.maximum(np.log(x), -100)
            log1mx = np.maximum(np.log1p(-x), -100)
        loss = (y - 1) * log1mx - y * logx
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y)
        ctx.weight = weight
        out, ctx.denom = _reduce(loss, reduction, np.result_type(x, y))
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        scale = _scale(g, ctx.denom, ctx.weight)
        nx, ny = ctx.needs_input_grad
        gx = gy = None
        if nx:
            gx = (x - y) / np.maximum((1 - x) * x, _BCE_EPS) * scale
        if ny:
            with np.errstate(divide="ignore"):
                gy = (np.log1p(-x) - np.log(x)) * scale
        return gx, gy


class BCEWithLogits(Function):
    """Sigmoid + binary cross-entropy in one stable formula.

    ``loss = (1 - y) x + (1 + (pw - 1) y) softplus(-x)`` with ``pw = pos_weight`` (1 when
    absent, giving ``max(x, 0) - x y + log(1 + exp(-|x|))``), times ``weight``.
    d/dx = ``sigmoid(x) - y`` without pos_weight.
    """

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        # softplus(-x) = max(-x, 0) + log1p(exp(-|x|)): never overflows.
        sp = np.log1p(np.exp(-np.abs(x)))
        sp += np.maximum(-x, 0)
        if pos_weight is None:
            loss = (1 - y) * x + sp
        else:
            loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * sp
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y)
        ctx.sp, ctx.weight, ctx.pos_weight = sp, weight, pos_weight
        out, ctx.denom = _reduce(loss, reduction, np.result_type(x, y))
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        pw = ctx.pos_weight
        scale = _scale(g, ctx.denom, ctx.weight)
        nx, ny = ctx.needs_input_grad
        gx = gy = None
        if nx:
            e = np.exp(-np.abs(x))
            sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
            if pw is None:
                gx = (sig - y) * scale
            else:
                gx = ((1 - y) - (1 + (pw - 1) * y) * (1 - sig)) * scale
        if ny:
            gy = -x if pw is None else (pw - 1) * ctx.sp - x
            gy = gy * scale
        return gx, gy
