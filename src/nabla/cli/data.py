"""The datasets ``nabla train`` knows, loaded as arrays, and the input
standardisation recorded in each model file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CLIError


@dataclass
class Data:
    """A dataset ready for training: arrays already scaled (images to [0, 1])."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list
    kind: str                       # "image" or "points"
    max_value: float = 1.0          # raw value that scales to 1.0 (grey levels)
    source: str | None = None       # the directory the files came from (MNIST-like)

    @property
    def input_shape(self) -> tuple:
        # The test split is always loaded; the training split not by `evaluate`.
        return tuple(self.X_test.shape[1:])

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))


def _digits(args, splits=("train", "test")) -> Data:
    from ..data import datasets

    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    (Xtr, ytr), (Xte, yte) = train.arrays(), test.arrays()
    return Data("digits", Xtr, ytr, Xte, yte, list(train.classes), "image", 16.0)


def _mnist_like(cls_name: str, name: str):
    def load(args, splits=("train", "test")) -> Data:
        from ..data import datasets

        cls = getattr(datasets, cls_name)
        root = args.data_dir
        arrays = {split: _open_mnist_like(cls, root, split, args.download).arrays()
                  for split in ("train", "test") if split in splits}
        shape = next(iter(arrays.values()))[0].shape[1:]
        for split in ("train", "test"):  # `evaluate` reads only the split it measures
            arrays.setdefault(split, (np.zeros((0, *shape), np.float32), np.zeros(0, np.int64)))
        (Xtr, ytr), (Xte, yte) = arrays["train"], arrays["test"]
        source = str(Path(root).expanduser().resolve()) if root else None
        return Data(name, Xtr, ytr, Xte, yte, list(cls.classes), "image", 255.0, source)

    return load


def _open_mnist_like(cls, root, split: str, download: bool):
    """The dataset object, or a CLIError worded in the command line's options (the
    library's own message speaks of Python arguments such as ``download=True``)."""
    from ..data.datasets.mnist import DownloadError, default_cache_dir

    where = Path(root).expanduser() if root else default_cache_dir(cls.cache_name)
    stem = "train" if split == "train" else "t10k"
    files = f"{stem}-images-idx3-ubyte.gz and {stem}-labels-idx1-ubyte.gz"
    what = f"{cls.name} {'training' if split == 'train' else 'test'} files"
    try:
        return cls(root, train=split == "train", download=download)
    except FileNotFoundError:
        raise CLIError(f"{what} not found in {where}: put {files} there, point --data-dir at "
                       "the directory that holds them, or add --download") from None
    except DownloadError as e:
        # The library lists each mirror with its failure, one per line, then its own
        # advice after "Offline?": keep the list, replace the advice.
        tried = str(e).split("\nOffline?")[0].splitlines()
        failures = "; ".join(line.strip() for line in tried[1:]) or tried[0]
        raise CLIError(f"{what} not found in {where} and --download failed; tried "
                       f"{failures}. Without a network, copy {files} into {where} or "
                       "point --data-dir at them") from None


def _toy(name: str, make):
    def load(args, splits=("train", "test")) -> Data:
        # A fixed data seed (not --seed): the test split must be the same set whatever
        # seed trains the model, so that `nabla evaluate` finds it again.
        X, y = make()
        X, y = X.numpy(), y.numpy()
        order = np.random.default_rng(0).permutation(len(X))
        n_test = len(X) // 5
        test, train = order[:n_test], order[n_test:]
        k = int(y.max()) + 1
        return Data(name, X[train], y[train], X[test], y[test], [str(c) for c in range(k)],
                    "points")

    return load


def _toy_makers():
    from ..data import datasets as d

    return {
        "xor": lambda: d.xor(400, noise=0.15, seed=0),
        "spiral": lambda: d.spiral(200, classes=3, noise=0.2, seed=0),
        "moons": lambda: d.moons(500, noise=0.15, seed=0),
        "circles": lambda: d.circles(500, noise=0.08, seed=0),
        "blobs": lambda: d.blobs(600, centers=3, std=1.5, seed=0),
    }


_TOY = ("xor", "spiral", "moons", "circles", "blobs")
DATASETS = {
    "digits": _digits,
    "mnist": _mnist_like("MNIST", "mnist"),
    "fashion-mnist": _mnist_like("FashionMNIST", "fashion-mnist"),
    **{name: _toy(name, lambda name=name: _toy_makers()[name]()) for name in _TOY},
}


def load_data(args, splits=("train", "test")) -> Data:
    """The dataset ``args.dataset``; ``splits`` names the splits that must be read (the
    others may come back empty: `evaluate` reads only what it measures)."""
    if args.dataset not in DATASETS:
        raise CLIError(f"unknown dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[args.dataset](args, splits)


class Normalizer:
    """Per-feature standardisation fitted on the training split, recorded in the model
    file so that ``nabla predict`` prepares new inputs exactly like the training data."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    @classmethod
    def fit(cls, X: np.ndarray) -> Normalizer:
        flat = X.reshape(len(X), -1).astype(np.float64)
        std = flat.std(axis=0)
        # Pixels that are (almost) always blank would be blown up by a tiny std:
        # floor it at a tenth of the data's overall spread.
        return cls(flat.mean(axis=0), np.maximum(std, 0.1 * flat.std() or 1.0))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        flat = X.reshape(len(X), -1)
        return ((flat - self.mean) / self.std).astype(np.float32).reshape(X.shape)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


class InputRange:
    """Where the training inputs lie, in two numbers per sample: the mean value (for
    images, how much ink) and the root-mean-square of the standardised features (how far
    from the average sample). Recorded in the model file at train time, so `predict` can
    warn that an input (a blank page, noise, a point far from the data) lies outside
    anything the model saw, where its confident-looking probabilities mean nothing."""

    # Slack on each side, as a share of the training range: inputs just past the
    # extremes are ordinary; only ones well beyond them are worth a warning.
    MARGIN = 0.25

    def __init__(self, level, distance):
        self.level, self.distance = tuple(level), tuple(distance)

    @staticmethod
    def measure(X: np.ndarray, norm: Normalizer) -> tuple[np.ndarray, np.ndarray]:
        flat = X.reshape(len(X), -1).astype(np.float64)
        z = norm(X).reshape(len(X), -1).astype(np.float64)
        return flat.mean(axis=1), np.sqrt((z * z).mean(axis=1))

    @classmethod
    def fit(cls, X: np.ndarray, norm: Normalizer) -> InputRange:
        level, distance = cls.measure(X, norm)
        return cls((float(level.min()), float(level.max())),
                   (float(distance.min()), float(distance.max())))

    def outside(self, X: np.ndarray, norm: Normalizer) -> list:
        """For each sample, why it lies outside the training range ('' when it does not)."""
        reasons = []
        for level, distance in zip(*self.measure(X, norm)):
            why = []
            lo, hi = self.level
            slack = self.MARGIN * (hi - lo)
            if not lo - slack <= level <= hi + slack:
                why.append(f"its mean value {level:.3g} lies outside the training inputs' "
                           f"{lo:.3g}..{hi:.3g}")
            if distance > self.distance[1] * (1 + self.MARGIN):
                why.append(f"it is {distance:.3g} standard deviations from the average "
                           f"training input (at most {self.distance[1]:.3g} in training)")
            reasons.append("; ".join(why))
        return reasons

    def to_json(self) -> dict:
        return {"level": list(self.level), "distance": list(self.distance)}
