"""Fused convolution (+ ReLU) + max-pool stages: ``Conv2dMaxPool2d``.

``nn.Sequential`` runs consecutive Conv2d [ReLU] MaxPool2d layers as one node: one
thread split forward and one backward for the whole run, instead of one per layer.
Each stage reuses the kernels of ``conv.py`` and ``pool.py``; the arguments are checked
as ``conv2d`` and ``max_pool2d`` check them, once per configuration.

>>> import nabla
>>> x, w = nabla.randn(2, 1, 8, 8), nabla.randn(3, 1, 3, 3)
>>> conv2d_max_pool2d(x, w, padding=1, relu=True).shape
(2, 3, 4, 4)
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import ShapeError, Tensor
from ..threads import _sum_parts, split
from ..workspace import _give, _take
from ._checks import _as, _conv2d_prepare, _pool_args
from .conv import (
    _bias_grad,
    _conv_grads_part,
    _conv_part,
    _conv_setup,
    _conv_size,
    _crop,
    _min_rows,
    _needs,
    conv2d,
)
from .elementwise import _relu_grad
from .pool import _max_pool, _max_pool_grad, _pool_canvas, _rows, _winners, max_pool2d

__all__ = [
    "conv2d_max_pool2d",
]


class _Stage:
    """One convolution -> max pooling (-> relu) stage of a ``Conv2dMaxPool2d`` node: its
    kernel, geometry and im2col workspace, its pooled output, and the pooling's winners
    once forward has run."""

    __slots__ = ("w", "b", "params", "pool", "relu", "geom", "ws", "cols", "canvas", "out",
                 "idx")

    def __init__(self, x, w, b, stride, padding, dilation, groups, pool, relu):
        self.w, self.b, self.pool, self.relu = w, b, pool, relu
        self.params = (stride, padding, dilation, groups)
        self.geom, self.ws, self.cols = _conv_setup(x, w, *self.params)
        n, o, ho, wo = x.shape[0], w.shape[0], self.geom[4], self.geom[5]
        self.canvas = _pool_canvas((n, o, ho, wo), pool)
        self.out = np.empty((n, o) + pool[4], np.result_type(x, w))
        # The pooling's row and column winners, for the whole batch: each part writes
        # its own samples' (no concatenating after the split).
        (kh, kw), (_, pooled_w) = pool[0], pool[4]
        self.idx = (_winners(self.out.shape, kh),
                    _winners((n, o, self.canvas[0], pooled_w), kw))

    def _won(self, lo, hi):
        """Samples lo..hi's (row, column) winners: views of ``idx``."""
        return _rows(self.idx, lo, hi)

    def forward(self, x, lo, hi):
        """Samples lo..hi of ``x``: convolved, pooled into ``out``, winners into ``idx``."""
        geom = self.geom
        conv = _take((hi - lo, self.w.shape[0], geom[4], geom[5]), self.out.dtype)
        ws = None if self.ws is None else self.ws[lo:hi]
        _conv_part(x, self.w, self.b, geom, self.params, ws, self.cols[lo:hi], lo, hi, conv)
        out = self.out[lo:hi]
        won = self._won(lo, hi)
        _max_pool(conv, self.pool, self.canvas, False, out=out, won=won)
        if out.size and np.isnan(out.max()):
            # A window held a NaN (its maximum is NaN): the winners again, NaN winning.
            # Checking the pooled maxima, not every input, reads a quarter as much.
            _max_pool(conv, self.pool, self.canvas, True, out=out, won=won)
        if self.relu:
            np.maximum(out, 0, out=out)
        _give(conv)

    def backward(self, g, needs, gxp, lo, hi):
        """Samples lo..hi, given the gradient ``g`` of their pooled output: through the
        relu and the pooling, then the convolution (see ``_conv_grads_part``)."""
        ho, wo = self.geom[4], self.geom[5]
        if self.relu:
            g = _relu_grad(g, self.out[lo:hi])
        gb = finite = None
        if self.canvas == (ho, wo) and needs[2]:
            # Every gradient goes into the convolution's output (the pooling has no
            # padding), so the bias gradient (their sum) is the sum before routing: 1/4
            # of the terms with 2x2 windows (the zeros between them add nothing). g is
            # finite when its sums are (an overflowing sum merely takes the exact, slower
            # routing): routing needs no check of its own, one GIL round trip fewer.
            gb, needs = _bias_grad(g), needs[:2]
            finite = bool(np.isfinite(gb.sum()))
        gc = _take((hi - lo, g.shape[1]) + self.canvas, g.dtype)
        _max_pool_grad(g, *self._won(lo, hi), self.pool, self.canvas, out=gc, finite=finite)
        ph, pw = self.pool[2]
        gconv = gc[:, :, ph:ph + ho, pw:pw + wo]
        if gconv.shape != gc.shape:
            gconv = np.ascontiguousarray(gconv)
        gw, gb_conv = _conv_grads_part(gconv, self.cols, self.w, self.geom, self.params, needs,
                                       gxp, lo, hi)
        _give(gc)
        return gw, gb if gb is not None else gb_conv


class Conv2dMaxPool2d(Function):
    """``max_pool2d(conv2d(x, w, b))`` as one node, for an ``nn.Conv2d`` followed by an
    ``nn.MaxPool2d`` in ``nn.Sequential``; several such stages in a row (LeNet's two) make
    one node too.

    Each thread's samples (see ``nabla.threads``) go through every stage in one go,
    convolved and pooled while their feature maps are still in cache, and the pooling
    runs on every core for free: alone it is too little work to be worth a thread start.
    One split for all the stages, not one per stage: a split costs 60-150 us on the
    2-core development machine. Backward routes each part's gradient back through the
    stages' pooling and convolution, last stage first. Every value and the input
    gradient are those of the separate ops, bit for bit; the weight and bias gradients
    add the same terms, in the order of the thread parts.

    Inputs: ``x``, the stages' kernels, then their biases (all or none), then ``stages``:
    per stage ``(stride, padding, dilation, groups, pool, relu)``, where ``pool`` is
    ``(kernel, stride, padding, dilation, (ho, wo))`` of the pooling, as ``MaxPool2d``
    takes them, and ``relu`` says that a ReLU follows the pooling (the same as before
    it: max and relu commute), applied in place.
    """

    @staticmethod
    def forward(ctx, x, *args):
        *arrays, stages = args
        k = len(stages)
        biases = arrays[k:] or (None,) * k
        chain, a = [], x
        for w, b, stage in zip(arrays[:k], biases, stages):
            chain.append(_Stage(a, w, b, *stage))
            a = chain[-1].out
        inputs = [x] + [st.out for st in chain[:-1]]

        def part(lo, hi):  # samples lo..hi through every stage
            for st, a in zip(chain, inputs):
                st.forward(a, lo, hi)

        split(part, x.shape[0], _min_rows(*[st.geom for st in chain]))
        needs = _needs(ctx)
        for j, st in enumerate(chain):
            if needs is None or not needs[1 + j]:  # no weight gradient: no columns kept
                if st.ws is not None:
                    _give(st.ws)
                st.ws = st.cols = None
        if needs is not None:
            ctx.chain = chain
            # A stage's kernel is saved (checked for in-place changes) where its input
            # gradient is wanted.
            saved = [st.w if want else None for st, want in zip(chain, _wanted(needs, k))]
            if chain[-1].relu:
                # relu's gradient mask is out > 0: saved, so an in-place change is caught.
                saved.append(chain[-1].out)
            ctx.save_for_backward(*saved)
        return chain[-1].out

    @staticmethod
    def backward(ctx, g):
        chain = ctx.chain
        k = len(chain)
        needs = ctx.needs_input_grad
        has_b = len(needs) > 1 + k
        wants = _wanted(needs, k)
        gxps = []
        for st, want in zip(chain, wants):
            (n, c, _, _), _, hp, wp, _, _ = st.geom
            gxps.append(np.empty((n, c, hp, wp), g.dtype) if want else None)

        def part(lo, hi):  # samples lo..hi back through every stage, last first
            found, gs = [(None, None)] * k, g[lo:hi]
            for j in reversed(range(k)):
                st = chain[j]
                wanted = (wants[j], needs[1 + j], has_b and needs[1 + k + j])
                found[j] = st.backward(gs, wanted, gxps[j], lo, hi)
                if not (j and wants[j]):
                    break  # nothing before this stage takes a gradient
                gs = _crop(gxps[j][lo:hi], st.geom, st.params)
            return found

        parts = split(part, g.shape[0], _min_rows(*[st.geom for st in chain]))
        gx = None if gxps[0] is None else _crop(gxps[0], chain[0].geom, chain[0].params)
        gws = [_sum_parts([p[j] for p in parts], 0) for j in range(k)]
        gbs = [_sum_parts([p[j] for p in parts], 1) for j in range(k)] if has_b else []
        return (gx, *gws, *gbs)

    def _release(self):
        chain = self.__dict__.get("chain")
        Function._release(self)
        for st in chain or ():
            if st.ws is not None:
                _give(st.ws)  # nothing refers to the columns any more


def _wanted(needs, k):
    """Whether each of a ``Conv2dMaxPool2d``'s k stages must give its input a gradient:
    when anything before it takes one (``needs``: x, the kernels, the biases if any)."""
    wants, want = [], needs[0]
    for j in range(k):
        wants.append(want)
        want = want or needs[1 + j] or (len(needs) > 1 + k and needs[1 + k + j])
    return wants


def conv2d_max_pool2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                      pool_kernel=2, pool_stride=None, pool_padding=0, pool_dilation=1,
                      ceil_mode=False, relu=False) -> Tensor:
    """``max_pool2d(conv2d(input, weight, bias, ...), pool_kernel, ...)`` as one node
    (``Conv2dMaxPool2d``): what ``nn.Sequential`` runs for a Conv2d then a MaxPool2d.
    With ``relu``, the ReLU of that (equal to pooling the ReLU of the convolution).

    >>> import nabla
    >>> x, w = nabla.randn(2, 1, 8, 8), nabla.randn(3, 1, 3, 3)
    >>> y = conv2d_max_pool2d(x, w, padding=1, pool_kernel=2)
    >>> y.shape, bool((y == max_pool2d(conv2d(x, w, padding=1), 2)).all())
    ((2, 3, 4, 4), True)
    """
    input = _as(input, "conv2d")
    if input.ndim == 3:  # unbatched, rare: the ops as they are
        out = max_pool2d(conv2d(input, weight, bias, stride, padding, dilation, groups),
                         pool_kernel, pool_stride, pool_padding, pool_dilation, ceil_mode)
        return out.relu() if relu else out
    stage = (weight, bias, stride, padding, dilation, groups, pool_kernel, pool_stride,
             pool_padding, pool_dilation, ceil_mode, relu)
    return _conv_max_pool_run(input, [stage])[0]


def _conv_max_pool_run(input, stages):
    """Consecutive ``conv2d -> max_pool2d`` stages (each with a ReLU after it where asked)
    over a batched input, as one ``Conv2dMaxPool2d`` node: ``(output, how many of the
    stages it ran)``.

    A stage is ``(weight, bias, stride, padding, dilation, groups, pool_kernel,
    pool_stride, pool_padding, pool_dilation, ceil_mode, relu)``. The first is checked
    as ``conv2d`` and ``max_pool2d`` check their arguments. A later one joins only when
    the same checks pass for it and it has a bias exactly when the first has (the node's
    inputs are x, the kernels, then the biases); otherwise the run stops before it, and
    the caller runs it on its own, where its own checks name any problem.

    The checks depend only on shapes, dtypes and the stages' constants, and a network
    repeats them every step: their outcome is kept, keyed by exactly those (~70 us a
    LeNet step inside training, where the checks' Python runs on cold caches).
    """
    key = _run_key(input, stages)
    consts = None if key is None else _RUNS_CHECKED.get(key)
    if consts is None:
        first, weights, biases, consts = _check_stages(input, stages)
        if key is not None and first is input:
            if len(_RUNS_CHECKED) >= 64:  # many configurations: start over, not grow
                _RUNS_CHECKED.clear()
            _RUNS_CHECKED[key] = consts
    else:  # this configuration passed before: its Tensors go in as they are
        first, k = input, len(consts)
        weights = [stage[0] for stage in stages[:k]]
        biases = [stage[1] for stage in stages[:k]] if stages[0][1] is not None else []
    return Conv2dMaxPool2d.apply(first, *weights, *biases, consts), len(consts)


def _check_stages(input, stages):
    """``_conv_max_pool_run``'s checks: ``(x, weights, biases, constants)`` of the stages
    that join (``biases`` empty where the first stage has none)."""
    x = first = input
    weights, biases, consts, shape = [], [], [], None
    for j, (weight, bias, st, pad, dil, groups, pk, ps, pp, pd, ceil, relu) in \
            enumerate(stages):
        if j:
            # This stage is checked against the last one's output, which does not exist
            # yet: a stand-in of its shape and dtype (one broadcast element, no memory).
            x = Tensor._wrap(np.broadcast_to(np.zeros((), weights[-1]._data.dtype), shape))
        try:
            x, weight, bias, args, _ = _conv2d_prepare(x, weight, bias, st, pad, dil, groups)
            _, _, ho, wo = _conv_size(x.shape, weight.shape, *args[:3])
            pool = _pool_args("max_pool2d", (x.shape[0], weight.shape[0], ho, wo), pk, ps,
                              pp, pd, ceil)
        except (ShapeError, TypeError, ValueError, RuntimeError):
            if j == 0:
                raise
            break
        if j and (bias is None) != (biases[0] is None):
            break
        if j == 0:
            first = x
        weights.append(weight)
        biases.append(bias)
        consts.append(args + (pool, bool(relu)))
        shape = (x.shape[0], weight.shape[0]) + pool[4]  # this stage's output
    return first, weights, biases if biases[0] is not None else [], tuple(consts)


_RUNS_CHECKED: dict = {}  # _run_key -> the stages' checked constants


def _run_key(input, stages):
    """What ``_conv_max_pool_run``'s checks read, as a dict key; None where an argument
    is not a Tensor (it is converted, and checked, every time) or a constant unhashable."""
    if not isinstance(input, Tensor):
        return None
    key = [input._data.shape, input._data.dtype]
    for weight, bias, *constants in stages:
        if not isinstance(weight, Tensor) or not (bias is None or isinstance(bias, Tensor)):
            return None
        key += [weight._data.shape, weight._data.dtype,
                None if bias is None else (bias._data.shape, bias._data.dtype), *constants]
    key = tuple(key)
    try:
        hash(key)
    except TypeError:  # a list given for a stride, say
        return None
    return key
