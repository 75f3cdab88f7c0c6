"""The datasets ``nabla train`` knows, loaded as arrays, and the input
standardisation recorded in each model file."""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def input_shape(self) -> tuple:
        return tuple(self.X_train.shape[1:])

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))


def _digits(args) -> Data:
    from ..data import datasets

    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    (Xtr, ytr), (Xte, yte) = train.arrays(), test.arrays()
    return Data("digits", Xtr, ytr, Xte, yte, list(train.classes), "image", 16.0)


def _mnist_like(cls_name: str, name: str):
    def load(args) -> Data:
        from ..data import datasets

        cls = getattr(datasets, cls_name)
        root = args.data_dir
        train = cls(root, train=True, download=args.download)
        test = cls(root, train=False, download=args.download)
        (Xtr, ytr), (Xte, yte) = train.arrays(), test.arrays()
        return Data(name, Xtr, ytr, Xte, yte, list(train.classes), "image", 255.0)

    return load


def _toy(name: str, make):
    def load(args) -> Data:
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


def load_data(args) -> Data:
    if args.dataset not in DATASETS:
        raise CLIError(f"unknown dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[args.dataset](args)


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
