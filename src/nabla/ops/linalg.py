"""Linear algebra: batched, broadcasting matmul and the fused ``linear`` layer op."""

from __future__ import annotations

import numpy as np

from .. import autograd as _ag
from ..autograd import Function
from ..autograd import ones_vector as _ones  # the bias gradient is ones @ g
from ..blas import linear_sgemm
from ..row_picks import ColumnBlocks
from ..threads import STREAM, add_rowwise
from . import softmax_linear
from .elementwise import _relu_grad, _sigmoid, _sigmoid_grad, _tanh_grad

_new = object.__new__


# From this many multiply-adds on, 2-D products go through np.matmul: its call into
# OpenBLAS ran 1.2-1.6x faster than ndarray.dot's for many layer shapes (the GPT's 512x64
# @ 64x256: 101 -> 71 us; the CNN's fc1 weight gradient 853 -> 642 us; 1024x10 @ 10x1024
# 609 -> 446 us), never slower by more than 10% (some weight gradients of 64-wide layers,
# 48 against 50 us); ndarray.dot stays below, where matmul's ufunc machinery costs more
# than it saves (64x128 @ 128x64: 18 against 20 us). Xeon, OpenBLAS 0.3.31 SkylakeX, 2
# threads; the two calls may round differently in the last bits.
_MATMUL_FROM = 1 << 20


def _mm(a, b):
    """``a @ b`` for 2-D ``a`` and ``b``, by the faster call for the size (see above)."""
    if a.shape[0] * a.shape[1] * b.shape[1] >= _MATMUL_FROM:
        return np.matmul(a, b)
    return a.dot(b)


class MatMul(Function):
    """``a @ b`` for operands of two or more dimensions (1-D is handled by the caller)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if a.ndim == 2 and b.ndim == 2:
            # Small ones through ndarray.dot: the same BLAS call without matmul's ufunc
            # machinery (3.8 -> 3.4 us for 32x30 @ 30x200); see _mm.
            return _mm(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if a.ndim == 2 and b.ndim == 2:
            return (_mm(g, b.T) if na else None), (_mm(a.T, g) if nb else None)
        if na:
            ga = g @ b.swapaxes(-1, -2)  # the method: no Python wrapper around it
        if nb:
            if b.ndim == 2 and a.ndim > 2:
                # One large product instead of a batch of small ones summed afterwards.
                gb = a.reshape(-1, a.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                gb = a.swapaxes(-1, -2) @ g
        return ga, gb


class Linear(Function):
    """``x @ W.T + b`` as one node: the hot path of every MLP."""

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        return _affine(x, w, b)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        if type(g) is ColumnBlocks:  # a decoder's, under log_softmax or cross-entropy
            return softmax_linear.linear_grads(ctx.needs_input_grad, g, x, w)
        return _linear_grads(ctx.needs_input_grad, g, x, w)


_SWAP_ROWS = 64  # the largest batch _product computes as (b.T @ a.T).T (see there)


def _affine(x, w, b):
    """``x @ w.T + b`` (``b`` may be None): every Linear layer's value. A big float32
    output (from ``threads.STREAM`` elements: a language model's decoder) with a bias
    is one BLAS call that starts from the bias (``blas.linear_sgemm``); the rest is
    ``_product``, then the bias added."""
    if b is not None and x.dtype == np.float32 and x.ndim >= 2:
        k, n = x.shape[-1], w.shape[0]
        rows = x.size // k if k else 0
        if rows * n >= STREAM and rows > _SWAP_ROWS:
            out = linear_sgemm(np.ascontiguousarray(x).reshape(rows, k), w, b)
            if out is not None:
                return out.reshape(x.shape[:-1] + (n,))
    out = _product(x, w.T)
    if b is not None:
        add_rowwise(out, b)
    return out


def _product(a, b, swap=True):
    """``a @ b`` for a 2-D ``b``. For a 2-D ``a`` through ``_mm``: ``ndarray.dot`` for small
    products (0.3 us less than ``matmul``'s ufunc machinery; the layers of a small MLP
    run several a step), ``np.matmul`` for big ones.

    A short, wide result (a small batch through a wider layer) is computed as
    ``(b.T @ a.T).T``, the same product with BLAS's roles of the two sides swapped, and
    comes back as a transposed (column-major) view. OpenBLAS does most such products
    faster so, with its Haswell and its SkylakeX kernels alike (a grid of batches 8-64
    and layers of 30-1024 measured both ways): 10x784 @ 784x30 12.7 -> 9.5 us and
    16x128 @ 128x512 14.8 -> 12.2 us (Haswell), 16x784 @ 784x128 34 -> 16 us
    (SkylakeX); from batch 64 up the two are on par, so only batches of 8-64 rows
    swap. The values may differ in the last bits (another order of the same sums), the
    same for every path that computes a Linear layer, fused or not:
    ``_LinearAct._record`` inlines this rule, and a test compares the fused layers with
    the unfused ones bit for bit.

    ``swap=False`` keeps the plain product, a row-major result: backward's input
    gradient, which the layers below reshape and multiply. The MNIST CNN's
    ``flatten`` -> ``dropout`` got fc1's (64, 9216) input gradient as a column-major
    view, and its product with the dropout mask took 3.8 ms instead of 0.3 (the swapped
    product was no faster there: 0.92 against 0.90 ms).
    """
    if a.ndim != 2:
        if a.ndim < 2:
            return a @ b
        if not a.flags.c_contiguous:
            # A transposed view (attention in PyTorch's sequence-first layout: (T, B, E)
            # swapped to (B, T, E)): NumPy's matmul runs one small product per leading
            # index; a copy and one product is faster, and gives the same bits: 20 x 35
            # x 200 @ 200 x 200, 0.49-0.63 -> 0.25-0.30 ms (the word LM's Transformer
            # runs 10 a step).
            a = np.ascontiguousarray(a)
        # Leading axes folded into the rows: one BLAS product instead of NumPy's matmul
        # looping over them (16x32x64 @ 64x192: 160 -> 101 us, single-threaded Xeon),
        # as PyTorch's linear folds them.
        lead = a.shape[:-1]
        return _product(a.reshape(-1, a.shape[-1]), b, swap).reshape(lead + (b.shape[1],))
    m, n = a.shape[0], b.shape[1]
    # Below 8 rows the measurements went either way: left as they were. Above 64 rows
    # the swap gains nothing and its column-major result slows every row-wise pass
    # after it: the word language model's decoder, 700 x 200 @ 200 x 33278, 47.6 ms
    # swapped against 42.5, and its log_softmax ran over columns (98 against 28 ms).
    if swap and n >= 2 * m and 8 <= m <= _SWAP_ROWS:
        return b.T.dot(a.T).T
    return _mm(a, b)


def _linear_grads(needs, g, x, w):
    gx = _product(g, w, swap=False) if needs[0] else None
    if g.ndim != 2:
        g = g.reshape(-1, g.shape[-1])
        x = x.reshape(-1, x.shape[-1])
    gw = _mm(g.T, x) if needs[1] else None
    # The bias gradient sums g over the batch: as a BLAS matrix-vector product it
    # takes 0.6 us instead of 2.0 us on 64x128 (a reduction along the short axis).
    gb = g.T.dot(_ones(len(g), g.dtype)) if len(needs) > 2 and needs[2] else None
    return gx, gw, gb


def _relu_(z, out):
    return np.maximum(z, 0, out=out)


class _LinearAct(Function):
    """``act(x @ W.T + b)`` as one node: a Linear layer and the activation after it.

    ``nn.Sequential`` runs a Linear followed by ReLU, Tanh or Sigmoid through one of the
    subclasses below: one node instead of two, the activation applied in place on the
    product, its derivative folded into the incoming gradient in backward. Each
    activation and derivative is computed exactly as the separate op computes it, so
    the values and gradients are those of the two nodes, bit for bit.
    """

    act = staticmethod(_relu_)
    act_grad = staticmethod(_relu_grad)

    @classmethod
    def _value(cls, x, w, b):
        out = _affine(x, w, b)
        # act(z, out): the activation of z written into out (here z itself). The ufunc
        # np.tanh is its own act; each Python call here costs ~0.5 us in a training step.
        return cls.act(out, out)

    @classmethod
    def forward(cls, ctx, x, w, b=None):
        out = cls._value(x, w, b)
        ctx.save_for_backward(x, w, out)
        return out

    @classmethod
    def apply(cls, *args, **params):
        """``Function.apply``. The usual call, an input, a weight and a bias tensor while
        a graph is recorded, builds its node here: the same node, without apply's
        generic argument handling and with the saved arrays' version checks made without
        a search. 1.3 us less per layer, about 3 us of a 60 us step of Nielsen's 784-30-10
        (test_speed_paths compares the two paths)."""
        if len(args) == 3 and not params and _ag._grad_enabled[0]:
            x, w, b = args
            tensor = _ag.Tensor
            if (isinstance(x, tensor) and isinstance(w, tensor) and isinstance(b, tensor)
                    and (x.requires_grad or w.requires_grad or b.requires_grad)):
                return cls._record(x, w, b, tensor)
        return super().apply(*args, **params)

    @classmethod
    def _record(cls, x, w, b, tensor):
        xa, wa = x._data, w._data
        ctx = _new(cls)
        ctx.inputs = (x, w, b)
        ctx.needs_input_grad = (x.requires_grad, w.requires_grad, b.requires_grad)
        ctx._seq = _ag._next_seq()
        # cls._value, inline: a Python call costs ~0.5 us here, inside a training step
        # (0.6 us of Nielsen's 784-30-10 step for its two layers, alternating processes).
        n = wa.shape[0]
        m = len(xa)
        if xa.ndim == 2 and m * n < STREAM:
            if n >= 2 * m and 8 <= m <= _SWAP_ROWS:
                out = wa.dot(xa.T).T
            elif m * n * wa.shape[1] >= _MATMUL_FROM:
                out = np.matmul(xa, wa.T)
            else:
                out = xa.dot(wa.T)
            out += b._data  # inline: this path is the small MLP's, call by call
        else:
            out = _affine(xa, wa, b._data)
        out = cls.act(out, out)
        t = tensor._wrap(out, True, ctx)
        ctx.saved_tensors = (xa, wa, out)
        xv, wv = x._vc, w._vc
        ctx._checks = [(xv, xv[0], xa), (wv, wv[0], wa), (t._vc, 0, out)]
        return t

    @classmethod
    def backward(cls, ctx, g):
        x, w, out = ctx.saved_tensors
        return _linear_grads(ctx.needs_input_grad, cls.act_grad(g, out), x, w)


class LinearRelu(_LinearAct):
    pass


class LinearTanh(_LinearAct):
    act = np.tanh
    act_grad = staticmethod(_tanh_grad)


class LinearSigmoid(_LinearAct):
    act = staticmethod(_sigmoid)
    act_grad = staticmethod(_sigmoid_grad)


def einsum_subscripts(equation, shapes):
    """``equation`` made explicit: (input subscripts, output subscripts), '...' spelled out
    as letters that the equation does not use, aligned from the right as it broadcasts."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(
            f"einsum: the equation names {len(ins)} operands, {len(shapes)} were given"
        )
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in eq]
    n_ell = max((len(s) - len(sub) + 3 for sub, s in zip(ins, shapes) if "..." in sub), default=0)
    ell = "".join(free[:n_ell])
    out = []
    for sub, s in zip(ins, shapes):
        if "..." in sub:
            k = len(s) - len(sub) + 3
            sub = sub.replace("...", ell[n_ell - k :] if k else "")
        if len(sub) != len(s) or not sub.isalpha():
            raise ValueError(
                f"einsum: subscripts {sub!r} do not fit an operand of shape {tuple(s)}"
            )
        out.append(sub)
    if arrow:
        rhs = rhs.replace("...", ell)
    else:  # implicit output: the broadcast dims, then letters seen once, in order
        letters = "".join(out)
        once = (c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        rhs = ell + "".join(sorted(once))
    return out, rhs


class Einsum(Function):
    """``np.einsum`` with its gradient: for each operand, the einsum of the output's
    gradient with the other operands, spread back over repeated (diagonal) and
    summed-away letters."""

    @staticmethod
    def forward(ctx, *arrays, subs, out):
        ctx.save_for_backward(*arrays)
        ctx.subs, ctx.out = subs, out
        eq = ",".join(subs) + "->" + out
        return np.asarray(np.einsum(eq, *arrays, optimize=len(arrays) > 2))

    @staticmethod
    def backward(ctx, g):
        arrays, subs = ctx.saved_tensors, ctx.subs
        sizes = {}
        for sub, a in zip(subs, arrays):
            for c, n in zip(sub, a.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = []
        for i, sub in enumerate(subs):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(subs) if j != i]
            have = set(ctx.out).union(*others)
            uniq = "".join(dict.fromkeys(sub))  # letters of this operand, once each
            got = "".join(c for c in uniq if c in have)
            ops = [g] + [b for j, b in enumerate(arrays) if j != i]
            eq = ",".join([ctx.out] + others) + "->" + got
            part = np.einsum(eq, *ops, optimize=len(ops) > 2)
            # letters summed away in the forward get the gradient broadcast back
            part = part.reshape([sizes[c] if c in got else 1 for c in uniq])
            part = np.broadcast_to(part, [sizes[c] for c in uniq])
            grad = np.zeros([sizes[c] for c in sub], dtype=g.dtype)
            # einsum("iji->ij") of grad is a writeable view of its diagonal
            np.einsum(sub + "->" + uniq, grad)[...] = part
            grads.append(grad)
        return tuple(grads)
