"""Stateless functions behind the layers: activations, dropout, losses.

>>> import nabla
>>> import nabla.nn.functional as F
>>> F.relu(nabla.tensor([-1.0, 2.0]))
tensor([0., 2.])
>>> round(F.cross_entropy(nabla.zeros(2, 4), nabla.tensor([0, 3])).item(), 4)  # log(4)
1.3863
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..backend import finfo
from ..creation import tensor
from ..functions import linear as linear  # F.linear, the fused x @ W.T + b
from ..ops import loss as _loss
from ..random import _np as _rng
from ..tensor import ShapeError, Tensor
from ._args import _REDUCTIONS, _float_input, _floor_unrecorded, _reduction, _t


# ------------------------------------------------------------------ activations
def step(input, threshold: float = 0.0) -> Tensor:
    """Heaviside step: 1 where ``input > threshold``, else 0 (in the input's float dtype).

    The perceptron's activation. Its derivative is 0 almost everywhere, so it passes no
    useful gradient: the result is detached from the graph (``requires_grad=False``).
    Train step units with the perceptron rule (``nn.Perceptron``), or train a smooth
    stand-in (sigmoid) by gradient descent.

    >>> import nabla
    >>> step(nabla.tensor([-1.0, 0.0, 0.5]))
    tensor([0., 0., 1.])
    >>> step(nabla.tensor([4.0, 6.0]), threshold=5)
    tensor([0., 1.])
    """
    x = _t(input)
    dt = x._data.dtype if x._data.dtype.kind == "f" else np.float32
    return Tensor._wrap((x._data > threshold).astype(dt))


heaviside = step


def relu(input, inplace: bool = False) -> Tensor:
    """``max(x, 0)``.

    >>> import nabla
    >>> relu(nabla.tensor([-1.0, 3.0]))
    tensor([0., 3.])
    """
    return input.relu()


def sigmoid(input) -> Tensor:
    """``1 / (1 + exp(-x))``, stable for large ``|x|``.

    >>> import nabla
    >>> sigmoid(nabla.tensor([0.0]))
    tensor([0.5000])
    """
    return input.sigmoid()


def tanh(input) -> Tensor:
    """Hyperbolic tangent.

    >>> import nabla
    >>> tanh(nabla.tensor([0.0]))
    tensor([0.])
    """
    return input.tanh()


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``.

    >>> import nabla
    >>> leaky_relu(nabla.tensor([-2.0, 2.0]), 0.1)
    tensor([-0.2000,  2.0000])
    """
    return input.leaky_relu(negative_slope)


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    >>> import nabla
    >>> round(softplus(nabla.tensor([0.0])).item(), 4)
    0.6931
    """
    return input.softplus(beta, threshold)


def gelu(input, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)`` (``approximate="tanh"`` for the fast form).

    >>> import nabla
    >>> round(gelu(nabla.tensor([1.0])).item(), 4)
    0.8413
    """
    return input.gelu(approximate)


def silu(input) -> Tensor:
    """``x * sigmoid(x)`` (swish).

    >>> import nabla
    >>> silu(nabla.tensor([0.0]))
    tensor([0.])
    """
    return input * input.sigmoid()


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    >>> import nabla
    >>> elu(nabla.tensor([1.0, 0.0])).tolist()
    [1.0, 0.0]
    """
    x = _t(input)
    # expm1 of the clamped input: exact near 0, and the unused branch never overflows
    # into a nan gradient
    return x.relu() + x.clamp(max=0.0).expm1() * alpha


def selu(input, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants.

    >>> import nabla
    >>> round(selu(nabla.tensor([1.0])).item(), 4)
    1.0507
    """
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> import nabla
    >>> round(celu(nabla.tensor([-2.0]), 2.0).item(), 4)
    -1.2642
    """
    x = _t(input)
    return x.relu() + (x.clamp(max=0.0) * (1.0 / alpha)).expm1() * alpha


def relu6(input, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``.

    >>> import nabla
    >>> relu6(nabla.tensor([-1.0, 7.0])).tolist()
    [0.0, 6.0]
    """
    return hardtanh(input, 0.0, 6.0)


def softsign(input) -> Tensor:
    """``x / (1 + |x|)``.

    >>> import nabla
    >>> softsign(nabla.tensor([1.0])).tolist()
    [0.5]
    """
    x = _t(input)
    return x / (x.abs() + 1.0)


def mish(input, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``.

    >>> import nabla
    >>> round(mish(nabla.tensor([1.0])).item(), 4)
    0.8651
    """
    x = _t(input)
    return x * x.softplus().tanh()


def hardsigmoid(input, inplace: bool = False) -> Tensor:
    """``clamp(x / 6 + 1/2, 0, 1)``.

    >>> import nabla
    >>> hardsigmoid(nabla.tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return (_t(input) + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0)


def hardswish(input, inplace: bool = False) -> Tensor:
    """``x * hardsigmoid(x)``.

    >>> import nabla
    >>> hardswish(nabla.tensor([1.0])).tolist()
    [0.6666666865348816]
    """
    x = _t(input)
    return x * hardsigmoid(x)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` clamped to [min_val, max_val].

    >>> import nabla
    >>> hardtanh(nabla.tensor([-3.0, 0.5, 2.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _t(input).clamp(min_val, max_val)


def logsigmoid(input) -> Tensor:
    """``log(sigmoid(x))`` without overflow: ``-softplus(-x)``.

    >>> import nabla
    >>> round(logsigmoid(nabla.tensor([0.0])).item(), 4)
    -0.6931
    """
    return -(-_t(input)).softplus(1.0, 20.0)


def glu(input, dim: int = -1) -> Tensor:
    """Gated linear unit: the first half of ``dim`` times the sigmoid of the second.

    >>> import nabla
    >>> glu(nabla.tensor([2.0, 0.0])).tolist()
    [1.0]
    """
    x = _t(input)
    if x.ndim == 0 or x.shape[dim] % 2:
        raise ValueError(
            f"glu: halving only works on an even-sized dimension: dim {dim} of shape "
            f"{tuple(x.shape)}"
        )
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()


def threshold(input, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``value`` where ``input <= threshold``, ``input`` elsewhere (NaN stays NaN).

    The gradient is 1 where the input is kept and 0 where ``value`` replaced it.
    ``inplace=True`` writes into ``input`` (recorded under autograd, as PyTorch's).

    >>> import nabla
    >>> threshold(nabla.tensor([-1.0, 0.5, 2.0]), 1.0, 20.0)
    tensor([20.0000, 20.0000,  2.0000])
    """
    x = _t(input)
    replaced = x <= threshold
    if inplace:
        return x.masked_fill_(replaced, value)
    # value in the input's dtype, as PyTorch casts it (an int input truncates 9.5 to 9)
    fill = Tensor._wrap(np.asarray(value).astype(x._data.dtype))
    return x.where(~replaced, fill)


def tanhshrink(input) -> Tensor:
    """``x - tanh(x)``.

    >>> import nabla
    >>> round(tanhshrink(nabla.tensor([1.0])).item(), 4)
    0.2384
    """
    x = _t(input)
    return x - x.tanh()


def rms_norm(input, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """Divide by the root mean square over the trailing ``normalized_shape`` dims, then
    multiply by ``weight`` (of that shape) if given: ``x / sqrt(mean(x²) + eps) * weight``.

    ``eps=None`` means ``finfo(input.dtype).eps``, as in PyTorch.

    >>> import nabla
    >>> rms_norm(nabla.tensor([[3.0, 4.0]]), (2,), eps=0.0)
    tensor([[0.8485, 1.1314]])
    """
    x = _float_input("rms_norm", input)
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    shape = tuple(int(s) for s in normalized_shape)
    if not shape:
        raise ShapeError("rms_norm: expected normalized_shape to be at least 1-dimensional, "
                         "got ()")
    k = len(shape)
    if k > x.ndim or tuple(x.shape[x.ndim - k:]) != shape:
        raise ShapeError(
            f"rms_norm: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}")
    if eps is None:
        eps = finfo(x.dtype).eps
    dims = tuple(range(-k, 0))
    y = x * ((x * x).mean(dim=dims, keepdim=True) + eps).rsqrt()
    if weight is None:
        return y
    w = _t(weight)
    if tuple(w.shape) != shape:
        raise ShapeError(
            f"rms_norm: expected weight of the shape of normalized_shape {list(shape)}, "
            f"got weight of shape {list(w.shape)}")
    # the result keeps the input's dtype whatever the weight's, as in PyTorch
    return y * (w if w.dtype == x.dtype else w.to(x.dtype))


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim`` (at least ``eps``).

    >>> import nabla
    >>> normalize(nabla.tensor([[3.0, 4.0]])).tolist()
    [[0.6, 0.8]]
    """
    x = _t(input)
    return x / x.norm(p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast).

    Each is divided by its norm (at least ``eps``) before the product, as PyTorch does.

    >>> import nabla
    >>> cosine_similarity(nabla.tensor([[1.0, 0.0]]), nabla.tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
    """
    a, b = _t(x1), _t(x2)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = a.expand(shape), b.expand(shape)
    # PyTorch clamps the norms without recording it: the gradient is that of the norm
    na = a.norm(2, dim, keepdim=True)
    nb = b.norm(2, dim, keepdim=True)
    na, nb = _floor_unrecorded(na, eps), _floor_unrecorded(nb, eps)
    return ((a / na) * (b / nb)).sum(dim)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with ``input`` as log-probabilities:
    ``target * (log(target) - input)`` (0 where target is 0), or with ``log_target``
    ``exp(target) * (target - input)``; ``reduction`` 'batchmean' divides the sum by the
    batch size (the mathematically right KL), 'mean' by the element count.

    >>> import nabla
    >>> kl_div(nabla.tensor([0.0]), nabla.tensor([1.0]), reduction="sum").item()
    0.0
    """
    x, t = _float_input("kl_div", input), _t(target)
    if reduction == "batchmean" and size_average is None and reduce is None:
        red = "batchmean"
    else:
        red = _reduction(reduction, size_average, reduce)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        pos = t > 0
        # t * log(t) with 0 at t == 0 (xlogy); log of a stand-in 1 keeps it finite
        safe = t.where(pos, t._other(1.0))
        loss = t * safe.log() - t * x
    if red == "none":
        return loss
    if red == "sum":
        return loss.sum()
    if red == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    warnings.warn(
        "reduction: 'mean' divides the total loss by both the batch size and the support "
        "size. 'batchmean' divides only by the batch size, and aligns with the KL div math "
        "definition.",
        stacklevel=2,
    )
    return loss.mean()


from ..functions import pad as pad  # noqa: E402  F.pad: constant, reflect, replicate, circular


def pixel_shuffle(input, upscale_factor: int) -> Tensor:
    """``(*, C * r * r, H, W)`` to ``(*, C, H * r, W * r)``: channels into space.

    >>> import nabla
    >>> pixel_shuffle(nabla.zeros(1, 8, 3, 3), 2).shape
    (1, 2, 6, 6)
    """
    x, r = _t(input), int(upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected (*, C*{r * r}, H, W) with C*{r * r} "
                         f"channels, got shape {x.shape}")
    *lead, c, h, w = x.shape
    k = len(lead)
    x = x.reshape(*lead, c // (r * r), r, r, h, w).permute(*range(k), k, k + 3, k + 1, k + 4,
                                                          k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor: int) -> Tensor:
    """``(*, C, H * r, W * r)`` to ``(*, C * r * r, H, W)``: the inverse of pixel_shuffle.

    >>> import nabla
    >>> pixel_unshuffle(nabla.zeros(1, 2, 6, 6), 2).shape
    (1, 8, 3, 3)
    """
    x, r = _t(input), int(downscale_factor)
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: expected (*, C, H, W) with H and W divisible by "
                         f"{r}, got shape {x.shape}")
    *lead, c, h, w = x.shape
    k = len(lead)
    x = x.reshape(*lead, c, h // r, r, w // r, r).permute(*range(k), k, k + 2, k + 4, k + 1,
                                                          k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def _softmax_dim(ndim: int, name: str) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim: int | None = None, dtype=None) -> Tensor:
    """Exponentials normalised to sum to 1 along ``dim`` (stable: the max is subtracted).

    >>> import nabla
    >>> softmax(nabla.tensor([[0.0, 0.0]]), dim=1)
    tensor([[0.5000, 0.5000]])
    """
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax")
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(dim)


def log_softmax(input, dim: int | None = None, dtype=None) -> Tensor:
    """``log(softmax(x))`` computed stably as ``x - logsumexp(x)``.

    >>> import nabla
    >>> round(log_softmax(nabla.tensor([0.0, 0.0]), dim=0)[0].item(), 4)
    -0.6931
    """
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax")
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(dim)


def softmin(input, dim: int | None = None, dtype=None) -> Tensor:
    """``softmax(-input)`` along ``dim``: the smallest entry gets the most weight.

    >>> import nabla
    >>> softmin(nabla.tensor([0.0, 0.0, 1e9]), dim=0)
    tensor([0.5000, 0.5000, 0.0000])
    """
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmin")
    if dtype is not None:
        input = input.to(dtype)
    return (-input).softmax(dim)


# ------------------------------------------------------------------ dropout etc.
def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator=None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by
    ``1/(1-p)`` so the expected value is unchanged; the identity when not training.

    >>> import nabla
    >>> x = nabla.ones(1000)
    >>> y = dropout(x, 0.5, generator=nabla.Generator().manual_seed(0))
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> dropout(x, 0.5, training=False) is x
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    dt = input._data.dtype
    if p == 1.0:
        mask = np.zeros(input.shape, dtype=dt)
    else:
        # Draw in the input's precision (float32 draws are half the work of float64).
        draw_dt = dt if dt in (np.float32, np.float64) else np.float64
        keep = _rng(generator).random(input.shape, dtype=draw_dt) >= p
        mask = keep.astype(dt)
        mask *= dt.type(1.0 / (1.0 - p))
    return input * Tensor._wrap(mask)


def one_hot(input, num_classes: int = -1) -> Tensor:
    """Class indices to one-hot rows (int64), as ``torch.nn.functional.one_hot``.

    >>> import nabla
    >>> one_hot(nabla.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    idx = _t(input)._data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes})")
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)


# ------------------------------------------------------------------------ losses
def _regression(name, input, target, kind, param, reduction):
    if (type(input) is Tensor and type(target) is Tensor
            and input._data.dtype.kind == "f" and target._data.dtype == input._data.dtype
            and target._data.shape == input._data.shape):
        # The usual call (two float tensors alike): nothing to convert or warn about.
        return _loss.Pointwise.apply(input, target, kind, param, reduction)
    x = _float_input(name, input)
    t = _t(target)
    if t._data.dtype.kind != "f":
        # Integer targets are fine for regression: compute in the input's dtype.
        t = t.to(x.dtype)
    if t._data.shape != x._data.shape:
        try:
            np.broadcast_shapes(x._data.shape, t._data.shape)
        except ValueError:
            raise ShapeError(
                f"{name}: target of shape {tuple(t.shape)} does not match (or broadcast with) "
                f"input of shape {tuple(x.shape)}"
            ) from None
        warnings.warn(
            f"{name}: using a target size ({tuple(t.shape)}) that is different to the input "
            f"size ({tuple(x.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )
    return _loss.Pointwise.apply(x, t, kind, param, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean squared error; ``reduction="sum"`` gives the sum of squared residuals.

    >>> import nabla
    >>> mse_loss(nabla.tensor([1.0, 2.0]), nabla.tensor([0.0, 4.0]))
    tensor(2.5000)
    >>> mse_loss(nabla.tensor([1.0, 2.0]), nabla.tensor([0.0, 4.0]), reduction="sum")
    tensor(5.)
    """
    reduction = _reduction(reduction, size_average, reduce)
    return _regression("mse_loss", input, target, "mse", None, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error.

    >>> import nabla
    >>> l1_loss(nabla.tensor([1.0, 2.0]), nabla.tensor([0.0, 4.0]))
    tensor(1.5000)
    """
    reduction = _reduction(reduction, size_average, reduce)
    return _regression("l1_loss", input, target, "l1", None, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Squared error for ``|d| < delta``, linear ``delta (|d| - delta/2)`` beyond it.

    >>> import nabla
    >>> huber_loss(nabla.tensor([0.5, 3.0]), nabla.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    reduction = _reduction(reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    return _regression("huber_loss", input, target, "huber", float(delta), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Huber loss divided by ``beta``: ``0.5 d²/beta`` for ``|d| < beta``, else ``|d| - beta/2``.

    >>> import nabla
    >>> smooth_l1_loss(nabla.tensor([0.5, 3.0]), nabla.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    return _regression("smooth_l1_loss", input, target, "smooth_l1", float(beta), reduction)


def _class_weight(name: str, weight, n_classes: int, dtype) -> np.ndarray | None:
    if weight is None:
        return None
    w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (n_classes,):
        raise ShapeError(
            f"{name}: weight should be a 1-D tensor with one entry per class ({n_classes}), "
            f"got shape {tuple(w.shape)}"
        )
    return w.astype(dtype, copy=False)


def _class_targets(name: str, x: Tensor, t: Tensor, ignore_index: int):
    """Check a class-index target against input ``x`` (class dim 1, or 0 when 1-D).

    Returns the indices and the ``ignore_index`` to pass on: None when no target can be
    equal to it (outside their range), so that the loss skips looking for them.
    """
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension, got a 0-d tensor")
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    expected = () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])
    td = t._data
    kind = td.dtype.kind
    if kind not in "iu":
        if kind == "f" and td.shape == expected:
            raise TypeError(
                f"{name}: target has the shape of class indices {expected} but dtype {t.dtype}; "
                "class indices must be integers (use target.long()), or pass class "
                f"probabilities with the input's shape {tuple(x.shape)}"
            )
        raise TypeError(
            f"{name}: target must hold integer class indices (int64), got dtype {t.dtype}"
        )
    if td.shape != expected:
        raise ShapeError(
            f"{name}: input of shape {tuple(x.shape)} ({n_classes} classes in dim "
            f"{0 if x.ndim == 1 else 1}) needs class indices of shape {expected}, "
            f"got target of shape {tuple(td.shape)}"
        )
    if not td.size:
        return td, ignore_index
    lo, hi = td.min(), td.max()
    if lo < 0 or hi >= n_classes:
        bad = td[(td != ignore_index) & ((td < 0) | (td >= n_classes))]
        if bad.size:
            raise IndexError(
                f"{name}: Target {bad.flat[0]} is out of bounds: class indices must be in "
                f"[0, {n_classes}) or equal ignore_index={ignore_index}"
            )
    return td, (ignore_index if lo <= ignore_index <= hi else None)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits and class indices or class probabilities.

    ``input`` holds unnormalised scores, shape ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``.
    ``target`` is either class indices (integers, the input's shape without dim 1) or
    probabilities (floats, the input's shape). One fused, numerically stable node: the
    gradient with respect to the logits is ``softmax - onehot``, scaled. Semantics are
    PyTorch's: with ``weight`` the mean divides by the summed weights of the targets;
    targets equal to ``ignore_index`` count for nothing.

    >>> import nabla
    >>> logits = nabla.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, nabla.tensor([0, 1]))
    >>> round(loss.item(), 4)
    0.3606
    >>> loss.backward()
    >>> logits.grad.sum(dim=1).abs().max().item() < 1e-7  # softmax - onehot rows sum to 0
    True
    """
    if (weight is None and not label_smoothing and ignore_index < 0 and size_average is None
            and reduce is None and reduction in ("mean", "sum")
            and type(input) is Tensor and type(target) is Tensor):
        # The usual call: (N, C) float logits, int64 class indices. One reduction checks
        # the targets: negative ones wrap to huge values in the unsigned view, so
        # max < C means 0 <= t < C for all (and none can equal a negative ignore_index).
        xd, td = input._data, target._data
        if (xd.ndim == 2 and xd.dtype.kind == "f" and td.dtype == np.int64
                and td.shape == xd.shape[:1] and td.size
                and td.view(np.uint64).max() < xd.shape[1]):
            return _loss.ClassNLL.apply(input, td, None, None, 0.0, reduction, True)
    reduction = _reduction(reduction, size_average, reduce)
    x = _float_input("cross_entropy", input)
    t = _t(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if x.ndim == 0:
        raise ShapeError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    w = _class_weight("cross_entropy", weight, n_classes, x._data.dtype)
    if t._data.shape == x._data.shape:
        if t._data.dtype.kind != "f":
            raise TypeError(
                "cross_entropy: a target with the input's shape holds class probabilities and "
                f"must be floating point, got {t.dtype}"
            )
        if ignore_index >= 0:
            raise ValueError("cross_entropy: ignore_index is not supported for class "
                             "probabilities (a floating-point target)")
        return _loss.SoftCrossEntropy.apply(x, t, w, float(label_smoothing), reduction)
    td, ignore = _class_targets("cross_entropy", x, t, ignore_index)
    return _loss.ClassNLL.apply(x, td, w, ignore, float(label_smoothing), reduction, True)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices, given log-probabilities.

    ``nll_loss(log_softmax(x, 1), y)`` equals ``cross_entropy(x, y)``.

    >>> import nabla
    >>> logp = nabla.tensor([[-0.1, -2.5], [-1.2, -0.4]])
    >>> nll_loss(logp, nabla.tensor([0, 1]))
    tensor(0.2500)
    """
    reduction = _reduction(reduction, size_average, reduce)
    x = _float_input("nll_loss", input)
    t = _t(target)
    td, ignore = _class_targets("nll_loss", x, t, ignore_index)
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    w = _class_weight("nll_loss", weight, n_classes, x._data.dtype)
    return _loss.ClassNLL.apply(x, td, w, ignore, 0.0, reduction, False)


def _binary_args(name, input, target, weight):
    x = _float_input(name, input)
    t = _t(target)
    if t._data.dtype.kind != "f":
        raise TypeError(
            f"{name}: target must be floating point (probabilities in [0, 1]), got {t.dtype}: "
            "convert with target.float()"
        )
    if t._data.shape != x._data.shape:
        raise ShapeError(
            f"{name}: target size {tuple(t.shape)} must be the same as input size "
            f"{tuple(x.shape)}"
        )
    w = None
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
        try:
            np.broadcast_shapes(w.shape, x._data.shape)
        except ValueError:
            raise ShapeError(
                f"{name}: weight of shape {tuple(w.shape)} does not broadcast to the input's "
                f"shape {tuple(x.shape)}"
            ) from None
        w = w.astype(x._data.dtype, copy=False)
    return x, t, w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` against targets in ``[0, 1]``.

    The logs are clamped at -100 (as in PyTorch), so a confident mistake costs 100, not
    infinity. Prefer ``binary_cross_entropy_with_logits`` on raw scores: it is stabler.

    >>> import nabla
    >>> binary_cross_entropy(nabla.tensor([0.5, 1.0]), nabla.tensor([1.0, 0.0]), reduction="none")
    tensor([  0.6931, 100.0000])
    """
    reduction = _reduction(reduction, size_average, reduce)
    x, t, w = _binary_args("binary_cross_entropy", input, target, weight)
    xd = x._data
    if xd.size and not (xd.min() >= 0 and xd.max() <= 1):
        raise ValueError(
            "binary_cross_entropy: all elements of input should be between 0 and 1 (found "
            f"values in [{xd.min()}, {xd.max()}]); pass logits to "
            "binary_cross_entropy_with_logits instead"
        )
    td = t._data
    if td.size and not (td.min() >= 0 and td.max() <= 1):
        raise ValueError("binary_cross_entropy: all elements of target should be between 0 and 1")
    return _loss.BinaryCrossEntropy.apply(x, t, w, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid followed by binary cross-entropy, as one stable formula
    ``max(x, 0) - x*y + log(1 + exp(-|x|))``. ``pos_weight`` (broadcast along the last,
    class, dim) multiplies the loss of positive targets.

    >>> import nabla
    >>> binary_cross_entropy_with_logits(nabla.tensor([0.0, 100.0]), nabla.tensor([1.0, 1.0]),
    ...                                  reduction="none")
    tensor([0.6931, 0.0000])
    """
    reduction = _reduction(reduction, size_average, reduce)
    name = "binary_cross_entropy_with_logits"
    x, t, w = _binary_args(name, input, target, weight)
    pw = None
    if pos_weight is not None:
        pw = pos_weight._data if isinstance(pos_weight, Tensor) else np.asarray(pos_weight)
        try:
            np.broadcast_shapes(pw.shape, x._data.shape)
        except ValueError:
            raise ShapeError(
                f"{name}: pos_weight of shape {tuple(pw.shape)} does not broadcast to the "
                f"input's shape {tuple(x.shape)} (it should have one entry per class, the "
                "last dim)"
            ) from None
        pw = pw.astype(x._data.dtype, copy=False)
    return _loss.BCEWithLogits.apply(x, t, w, pw, reduction)


# Convolution, pooling, normalization and embedding live beside their primitives in
# ops/; nn.functional is where users look for them, as in PyTorch.
from ..ops.attention import scaled_dot_product_attention  # noqa: E402
from ..ops.conv import (  # noqa: E402
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    fold,
    unfold,
)
from ..ops.embedding import embedding  # noqa: E402
from ..ops.norm import batch_norm, group_norm, instance_norm, layer_norm  # noqa: E402
from ..ops.pool import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from ..ops.resample import (  # noqa: E402
    dropout1d,
    dropout2d,
    interpolate,
    upsample,
    upsample_nearest,
)
from .functional_losses import (  # noqa: E402  margin, embedding and likelihood losses
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multilabel_soft_margin_loss,
    pairwise_distance,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
