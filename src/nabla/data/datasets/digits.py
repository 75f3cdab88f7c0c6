"""The UCI handwritten digits, bundled: 1,797 images of 8x8 grey levels 0..16.

Small enough to ship inside the package (a 45 KB ``.npz``) and to train on in seconds,
offline; see ``DIGITS_LICENSE.txt`` for the source and licence (CC BY 4.0).

>>> X, y = digits()
>>> tuple(X.shape), tuple(y.shape)
((1797, 1, 8, 8), (1797,))
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..dataset import _ImageArrayDataset

_FILE = Path(__file__).with_name("digits.npz")
N_SAMPLES = 1797


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    # allow_pickle=False: the bundle holds plain arrays, and an .npz must never be able
    # to run code when it is opened.
    with np.load(_FILE, allow_pickle=False) as f:
        images, labels = f["images"], f["labels"]
    if images.shape != (N_SAMPLES, 8, 8) or images.dtype != np.uint8 \
            or labels.shape != (N_SAMPLES,):
        raise ValueError(f"{_FILE} is damaged: images {images.dtype} {images.shape}, "
                         f"labels {labels.shape}")
    images.flags.writeable = False  # shared by every Digits: nobody may scribble on it
    labels = labels.astype(np.int64)
    labels.flags.writeable = False
    return images, labels


def _split_indices(labels: np.ndarray, split: str, test_fraction: float,
                   seed: int) -> np.ndarray:
    """Indices of ``split``, stratified: each class gives ``test_fraction`` of its
    samples (rounded) to the test split, chosen at random with ``seed``."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1], got {test_fraction}")
    if split == "all":
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        is_test[members[:round(test_fraction * len(members))]] = True
    # Original order within the split: the file interleaves the classes already.
    return np.flatnonzero(is_test if split == "test" else ~is_test)


class Digits(_ImageArrayDataset):
    """The bundled UCI digits as a dataset, with MNIST's interface.

    The 1,797 images are split once, deterministically and stratified by class:
    ``test_fraction`` of each class (chosen with ``seed``) form the test split, the rest
    the training split. ``ds[i]`` is ``(image, label)``, the image a float32 tensor
    (1, 8, 8) with the grey levels 0..16 scaled to [0, 1]; ``.data`` holds the raw uint8
    levels, ``.targets`` the int64 labels; ``.arrays()``/``.tensors()`` give everything.

    >>> train, test = Digits(train=True), Digits(train=False)
    >>> len(train), len(test)
    (1438, 359)
    """

    _max_value = 16
    classes = [str(d) for d in range(10)]

    def __init__(self, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, *,
                 test_fraction: float = 0.2, seed: int = 0):
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        images, labels = _load()
        idx = _split_indices(labels, "train" if train else "test", test_fraction, seed)
        self._set_arrays(images[idx], labels[idx])

    def __repr__(self) -> str:
        return f"Digits({'train' if self.train else 'test'}, {len(self)} images)"


def digits(split: str = "all", *, test_fraction: float = 0.2, seed: int = 0,
           flatten: bool = False):
    """The bundled UCI digits as tensors ``(X, y)``.

    ``X`` is float32, grey levels scaled to [0, 1], shape (N, 1, 8, 8) or (N, 64) with
    ``flatten``; ``y`` is int64 (N,) in 0..9. ``split`` is ``"all"`` (1,797 samples in
    file order), ``"train"`` or ``"test"``: the stratified split of :class:`Digits`, the
    same for the same ``test_fraction`` and ``seed``.

    >>> Xtr, ytr = digits("train", flatten=True)
    >>> Xte, yte = digits("test", flatten=True)
    >>> tuple(Xtr.shape), tuple(Xte.shape), float(Xtr.numpy().max())
    ((1438, 64), (359, 64), 1.0)
    """
    from ..dataset import _from_numpy

    images, labels = _load()
    idx = _split_indices(labels, split, test_fraction, seed)
    X = np.divide(images[idx], np.float32(16), dtype=np.float32)
    X = X.reshape(len(idx), -1) if flatten else X.reshape(len(idx), 1, 8, 8)
    return _from_numpy(X), _from_numpy(labels[idx].copy())
