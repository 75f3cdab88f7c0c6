"""Elementwise primitives: arithmetic, transcendental functions and activations."""

from __future__ import annotations

import math
import sys

import numpy as np

from ..autograd import _BLAS_FLOATS, Function
from ..threads import BIG, split, split_rows
from . import compiled
from .erf import erf as _erf


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        # Each operand only where the other's gradient needs it, as PyTorch saves them:
        # 0.044715 * x ** 3 need not keep the cube alive (graph_memory.free_consumed).
        try:
            na, nb = ctx.needs_input_grad
        except AttributeError:  # not recorded: nothing needs saving
            return a * b
        ctx.save_for_backward(a if nb else None, b if na else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            nb = ctx.needs_input_grad[1]
        except AttributeError:  # not recorded: nothing needs saving
            return a / b
        ctx.save_for_backward(a if nb else None, b)  # a only for b's gradient
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = g / b if na else None
        gb = -g * a / (b * b) if nb else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


def power(a, p):
    """``a ** p`` for a constant ``p``, through products and square roots where p is a
    small integer or half-integer: NumPy's general power is ~50x slower than a product
    (x ** 3.0 on 16x32x256 float32: 16.5 ms -> 0.04 ms). Same values within a rounding.
    """
    if a.dtype.kind != "f" and (p < 0 or p != int(p)):
        return a**p  # NumPy's own rules and errors for integer bases
    if p == 2:
        return a * a
    if p == 3:
        t = a * a
        t *= a
        return t
    if p == 4:
        t = a * a
        t *= t
        return t
    if p == 1:
        return a.copy()
    if p == 0:
        return np.ones_like(a)
    if p == 0.5:
        return np.sqrt(a)
    if p == 1.5:
        t = np.sqrt(a)
        t *= a
        return t
    if p == 2.5:
        t = np.sqrt(a)
        t *= a * a
        return t
    if p == -1:
        return np.reciprocal(a)
    if p == -2:
        return np.reciprocal(a * a)
    if p == -0.5:
        return np.reciprocal(np.sqrt(a))
    if p == -1.5:
        t = np.sqrt(a)
        t *= a
        return np.reciprocal(t)
    return a**p


class PowScalar(Function):
    """``a ** p`` for a constant exponent ``p``."""

    @staticmethod
    def forward(ctx, a, p):
        ctx.save_for_backward(a)
        ctx.p = p
        if p == 3 and (k := _compiled_for(a)) is not None:
            res = np.empty(a.shape, a.dtype)
            k.cube(a.reshape(-1), res.reshape(-1))
            return res
        return power(a, p)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        p = ctx.p
        if p in (2, 3) and g.shape == a.shape and g.dtype == a.dtype \
                and (k := _compiled_for(a)) is not None:
            res = np.empty(a.shape, a.dtype)
            k.power_grad(np.ascontiguousarray(g).reshape(-1), a.reshape(-1), p, res.reshape(-1))
            return res
        if p == 2:
            return g * 2 * a
        # PyTorch's order, g * (p * a^(p-1)); in place on the fresh power where the
        # result is its dtype and shape (one temporary, where three were made).
        t = power(a, p - 1)
        if isinstance(t, np.ndarray) and t.dtype.kind == "f" and t.dtype == g.dtype \
                and t.shape == g.shape:
            t *= p
            t *= g
            return t
        return g * (p * t)


class Pow(Function):
    """``a ** b`` with both operands tensors."""

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = g * b * a ** (b - 1) if na else None
        gb = None
        if nb:
            # d(a^b)/db = a^b log a; PyTorch takes it as 0 where a == 0 and b >= 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * np.log(a)
            gb = np.where((a == 0) & (b >= 0), 0, gb)
        return ga, gb


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class Expm1(Function):
    # np.expm1, not exp - 1: exact where exp(a) rounds to 1 (what ELU's small negatives need)
    @staticmethod
    def forward(ctx, a):
        out = np.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] + 1)


class Log1p(Function):
    # np.log1p, not log(1 + a): 1 + a rounds a small a away
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log1p(a)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.saved_tensors[0] + 1)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_tensors[0]


class LogBase(Function):
    """``log2`` or ``log10``: NumPy's own, so the values round as PyTorch's do."""

    @staticmethod
    def forward(ctx, a, base):
        ctx.save_for_backward(a)
        ctx.base = base
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(a) if base == 2 else np.log10(a)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.saved_tensors[0] * math.log(ctx.base))


class Sqrt(Function):
    """``sqrt(a)``; with ``zero_at_zero`` the gradient at 0 is 0 instead of inf.

    The derivative at 0 is infinite, and inf times the 0 that flows in from ``x * x``
    makes a nan: a norm or std of zeros would poison every gradient. PyTorch's norm and
    std take the subgradient 0 there; nabla's do the same through this flag.
    """

    @staticmethod
    def forward(ctx, a, zero_at_zero=False):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(a)
        ctx.save_for_backward(out)
        ctx.zero_at_zero = zero_at_zero
        return out

    @staticmethod
    def backward(ctx, g):
        out = ctx.saved_tensors[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = g / (2 * out)
        return np.where(out == 0, 0, g) if ctx.zero_at_zero else g


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.saved_tensors[0])


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        return g * np.cos(ctx.saved_tensors[0])


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, g):
        return -g * np.sin(ctx.saved_tensors[0])


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return _tanh_grad(g, ctx.saved_tensors[0])


# The activations' gradients from their outputs, shared with linalg's fused
# Linear+activation nodes so that both give the same bits.
def _tanh_grad(g, out):
    if g.shape != out.shape or g.dtype != out.dtype or not out.ndim:
        return g * (1 - out * out)  # (0-d: NumPy scalars, nothing to write into)
    if (k := _compiled_for(out)) is not None:
        res = np.empty(g.shape, g.dtype)  # the same operations in the same order
        k.tanh_grad(np.ascontiguousarray(g).reshape(-1), out.reshape(-1), res.reshape(-1))
        return res
    # The same operations with one temporary instead of three, the same bits (a product
    # does not depend on its operands' order): 32 x 200, 4.3 -> 2.4 us.
    t = out * out
    np.subtract(1, t, out=t)
    t *= g
    return t


# ------------------ compiled elementwise kernels (optional: Numba): softmax, tanh, powers
# Smaller arrays keep to NumPy: there the kernels save a few microseconds, while
# loading Numba costs ~0.5 s once and ~120 MiB of memory (a makemore-sized MLP's tanh,
# 32 x 200, would have pulled it in for 2% of its step: its peak 41 -> 164 MiB).
_COMPILED_MIN = 1 << 15
_kernels: list = []  # [elementwise_kernels or None] once looked for


def _compiled_for(a):
    """The compiled kernels for a whole-array pass over ``a``, or None: ``a`` is small, not
    a C-contiguous float32/float64 array, or there are no kernels."""
    if a.size >= _COMPILED_MIN and a.dtype in _BLAS_FLOATS and a.flags.c_contiguous:
        return elementwise_kernels()
    return None


def elementwise_kernels():
    """The compiled softmax and log-softmax rows, tanh gradient and powers
    (``elementwise_kernels.py``), or None: without Numba, with ``NABLA_NUMBA=0``, or when
    they do not compile or check out."""
    return compiled.once(_kernels, "the elementwise kernels", _build_kernels, "NumPy")


def _build_kernels():
    from . import elementwise_kernels as ak

    inf = np.inf
    x = np.array([[0, np.log(3), -inf], [-inf, -inf, -inf]], np.float32)
    e = np.empty_like(x)
    ak.shift_by_row_max(x, e)  # compiles them now, not inside a training step
    np.exp(e, out=e)
    ak.divide_by_row_sum(e)
    g, res = np.array([[1, 0, 5]], np.float32), np.empty((1, 3), np.float32)
    ak.softmax_grad(g, e[:1], res)
    t, c, d = np.empty(3, np.float32), np.empty(3, np.float32), np.empty(3, np.float32)
    ak.tanh_grad(np.full(3, 2, np.float32), np.array([0, 0.5, 1], np.float32), t)
    ak.cube(np.array([-1, 2, 0.5], np.float32), c)
    ak.power_grad(np.full(3, 2, np.float32), np.array([-1, 2, 0.5], np.float32), 3, d)
    rg = np.empty(3, np.float32)
    ak.relu_grad(np.array([1, 2, np.inf], np.float32), np.array([1, 0, 0], np.float32), rg)
    ls, lg = np.empty((1, 3), np.float32), np.empty((1, 3), np.float32)
    ak.log_softmax_rows(x[:1], np.array([np.log(3)], np.float32), ls)
    ak.log_softmax_grad_rows(np.array([[0, -1, 0]], np.float32), ls, lg)
    pc = np.empty((1, 2), np.float32)  # columns 1-2, NLL's pick at column 1 (value -1)
    ak.log_softmax_grad_picked_cols(ls, np.array([-1], np.float32), np.array([1]), 1, pc)
    # softmax(0, log 3, -inf) = (1/4, 3/4, 0); a row of -inf is NaN, as in NumPy.
    ok = (np.allclose(e[0], [0.25, 0.75, 0]) and np.isnan(e[1]).all()
          and np.allclose(res, [[0.25 * 0.75, -0.75 * 0.25, 0]]) and t.tolist() == [2, 1.5, 0]
          and c.tolist() == [-1, 8, 0.125] and d.tolist() == [6, 24, 1.5]
          and rg[:2].tolist() == [1, 0] and np.isnan(rg[2])
          # log_softmax(0, log 3, -inf) = (log 1/4, log 3/4, -inf); its gradient
          # under (0, -1, 0) is (1/4, -1/4, 0)
          and np.allclose(ls[0, :2], np.log([0.25, 0.75])) and ls[0, 2] == -inf
          and np.allclose(lg, [[0.25, -0.25, 0]]) and np.allclose(pc, [[-0.25, 0]]))
    if not ok:
        raise RuntimeError("the compiled elementwise kernels gave wrong values")
    return ak


def _sigmoid_grad(g, out):
    # g * out * (1 - out) with one temporary instead of three.
    t = np.subtract(1, out)
    t *= out
    t *= g
    return t


def _relu_grad(g, out):
    if g.size >= BIG and g.shape == out.shape and g.dtype.kind == "f":
        # A big one (a convolution's feature maps) in parts on every thread.
        res = np.empty(g.shape, g.dtype)
        # Compiled, one pass (1.5x NumPy's mask and product; the kernel holds no GIL),
        # but only where another compiled path has loaded Numba already: alone it saves
        # too little to pay for loading it (~120 MiB; LeNet's 55k-element ReLUs ~20 us a
        # step, the 1024-wide MLP's ~0.2 ms of 38), while in the MNIST CNN, whose
        # convolutions load it, it saves ~1 ms.
        if g.dtype == out.dtype and "numba" in sys.modules \
                and (k := _compiled_for(out)) is not None:
            g1, o1, r1 = np.ascontiguousarray(g).reshape(-1), out.reshape(-1), res.reshape(-1)
            split(lambda lo, hi: k.relu_grad(g1[lo:hi], o1[lo:hi], r1[lo:hi]), len(r1),
                  BIG // 2)
        else:
            split_rows(lambda lo, hi: np.multiply(g[lo:hi], out[lo:hi] > 0,
                                                  out=res[lo:hi]), g)
        return res
    return g * (out > 0)


def _relu(a):
    if a.size >= BIG and a.dtype.kind == "f":
        out = np.empty(a.shape, a.dtype)
        split_rows(lambda lo, hi: np.maximum(a[lo:hi], 0, out=out[lo:hi]), a)
        return out
    return np.maximum(a, 0)


# exp(-a) overflows below these; sigmoid(a) there is below 1e-38 (float32), 1e-308.
_EXP_LIMIT = {np.dtype(np.float16): 11.0, np.dtype(np.float32): 88.0,
              np.dtype(np.float64): 709.0}


def _sigmoid(a, out=None):
    """``1 / (1 + exp(-a))`` in four in-place passes, -a clamped where exp would
    overflow: sigmoid(a) is then a denormal or 0, and returns exp(-limit) ~ 6e-39
    (float32) instead. No cancellation anywhere; 4.6 -> 2.3 us on 10x30 float32 against
    the two-branch exp(-|a|) form (clamping costs 0.3 us where np.errstate costs 0.75).
    With ``out`` (``a`` itself for a fused node's own product) the passes write there.
    """
    e = np.negative(a, out=out)
    if e.ndim == 0 and out is None:
        e = np.array(e)  # a ufunc gives a scalar for 0-d input
    np.minimum(e, _EXP_LIMIT.get(e.dtype, 88.0), out=e)
    np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        out = _sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return _sigmoid_grad(g, ctx.saved_tensors[0])


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = _relu(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return _relu_grad(g, ctx.saved_tensors[0])


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, slope):
        ctx.save_for_backward(a)
        ctx.slope = slope
        return np.where(a > 0, a, a * slope)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        return np.where(a > 0, g, g * ctx.slope)


class Softplus(Function):
    """``log(1 + exp(beta*x)) / beta``, linear above ``threshold`` as in PyTorch."""

    @staticmethod
    def forward(ctx, a, beta, threshold):
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        z = a * beta
        # logaddexp(0, z) = log(1 + e^z) without overflow.
        return np.where(z > threshold, a, np.logaddexp(0, z) / beta).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        z = a * ctx.beta
        return np.where(z > ctx.threshold, g, g * _sigmoid(z))


def erf(a):
    """The error function, elementwise (NumPy has none): see ``ops/erf.py``."""
    return _erf(a)


class Gelu(Function):
    """Gaussian error linear unit: ``x * Phi(x)``, or its tanh approximation."""

    @staticmethod
    def forward(ctx, a, approximate):
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            return 0.5 * a * (1 + np.tanh(k * (a + 0.044715 * (a * a * a))))
        # Phi(a), kept for the backward: erf is the costly part of both passes.
        cdf = erf(a * (1 / math.sqrt(2)))
        cdf += 1
        cdf *= 0.5
        ctx.cdf = cdf
        return a * cdf

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        if ctx.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = np.tanh(k * (a + 0.044715 * (a * a * a)))
            dt = (1 - t * t) * k * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * dt)
        cdf = ctx.cdf
        pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return g * (cdf + a * pdf)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        out = a
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out if out is not a else a.copy()

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        mask = np.ones(a.shape, dtype=bool)
        if ctx.lo is not None:
            mask &= a >= ctx.lo
        if ctx.hi is not None:
            mask &= a <= ctx.hi
        return g * mask


class Maximum(Function):
    """Elementwise maximum; at ties the gradient is split equally, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        half = np.where(a == b, 0.5, 1.0).astype(g.dtype)
        return g * (a >= b) * half, g * (b >= a) * half


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        half = np.where(a == b, 0.5, 1.0).astype(g.dtype)
        return g * (a <= b) * half, g * (b <= a) * half


class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a boolean array and gets no gradient."""

    @staticmethod
    def forward(ctx, a, b, cond):
        ctx.cond = cond
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond = ctx.cond
        na, nb = ctx.needs_input_grad
        zero = np.zeros((), dtype=g.dtype)
        return (np.where(cond, g, zero) if na else None), (np.where(cond, zero, g) if nb else None)
