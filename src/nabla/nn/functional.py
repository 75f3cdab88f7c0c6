"""Stateless functions behind the layers: activations, dropout, losses.

>>> import nabla
>>> import nabla.nn.functional as F
>>> F.relu(nabla.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""

from __future__ import annotations

import warnings

import numpy as np

from ..random import _np as _rng
from ..tensor import Tensor, tensor
from ..tensor import linear as linear  # F.linear, the fused x @ W.T + b


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else tensor(x)


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
    dt = x.data.dtype if x.data.dtype.kind == "f" else np.float32
    return Tensor._wrap((x.data > threshold).astype(dt))


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
    dt = input.data.dtype
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
    idx = _t(input).data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes})")
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)
