"""Small synthetic datasets for first experiments: seeded, instant, offline.

Every function returns nabla tensors ``(X, y)``: ``X`` float32 of shape (n, features);
``y`` int64 class labels (n,) for the classification sets, float32 targets (n, 1) for
the regression set (the shape a ``Linear(k, 1)`` model predicts). The same ``seed``
gives the same data; ``seed=None`` draws from nabla's global generator (see
``nabla.manual_seed``). Samples come grouped by class: shuffle them with
``DataLoader(..., shuffle=True)`` or ``random_split``.

>>> X, y = moons(100, noise=0.1, seed=0)
>>> tuple(X.shape), X.dtype, y.dtype
((100, 2), nabla.float32, nabla.int64)
"""

from __future__ import annotations

import numpy as np

from .. import dataset as _dataset


def _generator(seed: int | None) -> np.random.Generator:
    if seed is None:
        return _dataset._rng(None)
    return np.random.default_rng(seed)


def _check_n(n: int, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def _out(X: np.ndarray, y: np.ndarray):
    X = X.astype(np.float32, copy=False)
    y = y.astype(np.int64 if y.dtype.kind in "iub" else np.float32, copy=False)
    return _dataset._from_numpy(X), _dataset._from_numpy(y)


def xor(n: int = 200, noise: float = 0.1, seed: int | None = 0):
    """The XOR problem: points near the corners of the unit square, label ``x1 xor x2``.

    Sample ``i`` sits at corner ``i % 4`` of (0,0), (0,1), (1,0), (1,1) plus Gaussian
    noise of standard deviation ``noise``, so ``xor(4, noise=0)`` is the truth table.

    >>> X, y = xor(4, noise=0.0)
    >>> X.numpy().tolist(), y.numpy().tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n = _check_n(n)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    which = np.arange(n) % 4
    X = corners[which] + noise * _generator(seed).standard_normal((n, 2))
    return _out(X, np.array([0, 1, 1, 0])[which])


def spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2,
           seed: int | None = 0):
    """Interleaved spiral arms, one per class: not linearly separable.

    Arm ``k`` starts at the origin at angle ``2*pi*k/classes`` and turns 4 radians as
    its radius grows to 1; ``noise`` jitters the angle (in radians).

    >>> X, y = spiral(50, classes=3)
    >>> tuple(X.shape), sorted(set(y.numpy().tolist()))
    ((150, 2), [0, 1, 2])
    """
    n = _check_n(n_per_class, "n_per_class")
    k = _check_n(classes, "classes")
    rng = _generator(seed)
    r = np.tile(np.linspace(0.0, 1.0, n), k)
    # Each arm turns 4 radians from its own starting angle, arms 2*pi/k apart.
    start = np.repeat(np.arange(k) * (2 * np.pi / k), n)
    theta = start + 4.0 * r + noise * rng.standard_normal(n * k)
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return _out(X, np.repeat(np.arange(k), n))


def moons(n: int = 200, noise: float = 0.1, seed: int | None = 0):
    """Two interleaving half circles (class 0 on top, class 1 below, shifted right).

    >>> X, y = moons(7, noise=0.0)
    >>> tuple(X.shape), y.numpy().tolist()
    ((7, 2), [0, 0, 0, 0, 1, 1, 1])
    """
    n = _check_n(n)
    n0 = n - n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n // 2)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + noise * _generator(seed).standard_normal((n, 2))
    return _out(X, np.repeat([0, 1], [n0, n // 2]))


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0):
    """A ring of class 0 (radius 1) around a ring of class 1 (radius ``factor``).

    >>> X, y = circles(100, noise=0.0)
    >>> r = (X.numpy() ** 2).sum(1) ** 0.5
    >>> round(float(r[:50].mean()), 3), round(float(r[50:].mean()), 3)
    (1.0, 0.5)
    """
    n = _check_n(n)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must lie in (0, 1), got {factor}")
    rng = _generator(seed)
    n0 = n - n // 2
    theta = rng.uniform(0.0, 2 * np.pi, n)
    radius = np.where(np.arange(n) < n0, 1.0, factor)
    X = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    X += noise * rng.standard_normal((n, 2))
    return _out(X, np.repeat([0, 1], [n0, n // 2]))


def blobs(n: int = 300, centers=3, std: float = 1.0, seed: int | None = 0,
          n_features: int = 2, box: tuple[float, float] = (-10.0, 10.0)):
    """Gaussian clusters, one class each.

    ``centers`` is a number of clusters (their centres drawn uniformly in ``box``) or an
    array (k, n_features) of centres. The ``n`` samples are shared out as evenly as
    possible; ``std`` is each cluster's standard deviation.

    >>> X, y = blobs(10, centers=[[0, 0], [5, 5]], std=0.0)
    >>> X.numpy()[[0, -1]].tolist(), y.numpy().tolist()
    ([[0.0, 0.0], [5.0, 5.0]], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    n = _check_n(n)
    rng = _generator(seed)
    if np.ndim(centers) == 0:
        k = _check_n(centers, "centers")
        centres = rng.uniform(box[0], box[1], (k, _check_n(n_features, "n_features")))
    else:
        centres = np.asarray(centers, dtype=np.float64)
        if centres.ndim != 2 or len(centres) == 0:
            raise ValueError(f"centers must be an int or a (k, features) array, got "
                             f"shape {centres.shape}")
    k = len(centres)
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    y = np.repeat(np.arange(k), counts)
    X = centres[y] + std * rng.standard_normal((n, centres.shape[1]))
    return _out(X, y)


# The true model behind house_prices, public so that a regression can be checked
# against it: price = BASE + PER_M2 * size + LOCATION * location (thousands of euros).
HOUSE_PRICE_BASE = 50.0
HOUSE_PRICE_PER_M2 = 3.0
HOUSE_PRICE_LOCATION = 200.0


def house_prices(n: int = 200, noise: float = 25.0, seed: int | None = 0):
    """A synthetic regression: house size and location to price.

    Features (columns of ``X``): size in m² (uniform in 30..250) and a location score in
    [0, 1] (how desirable the district is). Target ``y`` (n, 1): the price in thousands
    of euros, ``50 + 3 * size + 200 * location`` plus Gaussian noise of standard
    deviation ``noise``. The features have very different scales, as real ones do:
    standardise them before gradient descent.

    >>> X, y = house_prices(500, noise=0.0)
    >>> import numpy as np
    >>> A = np.c_[np.ones(500), X.numpy()]
    >>> np.linalg.lstsq(A, y.numpy()[:, 0], rcond=None)[0].round(2).tolist()
    [50.0, 3.0, 200.0]
    """
    n = _check_n(n)
    rng = _generator(seed)
    size = rng.uniform(30.0, 250.0, n)
    location = rng.uniform(0.0, 1.0, n)
    price = (HOUSE_PRICE_BASE + HOUSE_PRICE_PER_M2 * size + HOUSE_PRICE_LOCATION * location
             + noise * rng.standard_normal(n))
    return _out(np.stack([size, location], axis=1), price[:, None])
