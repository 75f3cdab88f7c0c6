"""The ``nabla`` command line.

``nabla train`` trains a model on a dataset and saves it, with its training history,
plots and a checkpoint, under ``runs/``; ``nabla evaluate`` measures a saved model;
``nabla predict`` classifies images or arrays with it; ``nabla graph`` draws a saved
model; ``nabla plot`` redraws a run's plots; ``nabla demo`` trains a tiny network on
XOR. ``nabla COMMAND --help`` lists each command's options.

Errors (a bad option, a missing file, a damaged model) end the command with exit status
1 or 2 and one line on stderr; set ``NABLA_DEBUG=1`` to see the traceback instead.

>>> main(["train", "--dataset", "xor", "--epochs", "2", "--out", "/nonexistent/x",
...       "--hidden", "8,eight"])
Traceback (most recent call last):
...
SystemExit: 2
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class CLIError(Exception):
    """A problem with the user's request: reported as one line, no traceback, with
    exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not argparse's usage block: the usage is one --help away.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------------- demo

def _demo(args) -> int:
    """Train a 2-16-16-1 network on XOR and print the loss falling."""
    import nabla

    nabla.manual_seed(args.seed)
    x = nabla.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = nabla.tensor([[0.0], [1.0], [1.0], [0.0]])
    w1 = (nabla.randn(16, 2) * 0.7).requires_grad_()
    b1 = nabla.zeros(16, requires_grad=True)
    w2 = (nabla.randn(1, 16) * 0.25).requires_grad_()
    b2 = nabla.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    for step in range(args.steps + 1):
        hidden = nabla.linear(x, w1, b1).tanh()
        pred = nabla.linear(hidden, w2, b2).sigmoid()
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with nabla.no_grad():
            for p in params:
                p -= args.lr * p.grad
        if step % max(1, args.steps // 10) == 0:
            print(f"step {step:5d}  loss {loss.item():.6f}")
    print("predictions:", [round(v, 3) for v in pred.detach().reshape(-1).tolist()])
    return 0


# --------------------------------------------------------------------------- datasets

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
    from .data import datasets

    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    (Xtr, ytr), (Xte, yte) = train.arrays(), test.arrays()
    return Data("digits", Xtr, ytr, Xte, yte, list(train.classes), "image", 16.0)


def _mnist_like(cls_name: str, name: str):
    def load(args) -> Data:
        from .data import datasets

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
    from .data import datasets as d

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


# ----------------------------------------------------------------------------- models

def _mlp(args, data: Data, n_classes: int):
    from . import models

    return models.mlp(data.in_features, hidden=tuple(args.hidden), out_features=n_classes,
                      activation=args.activation, dropout=args.dropout)


def _perceptron(args, data: Data, n_classes: int):
    from . import models

    return models.perceptron(data.in_features, n_classes)


def _image_shape(data: Data, model: str) -> tuple:
    if data.kind != "image" or len(data.input_shape) != 3:
        raise CLIError(f"--model {model} needs images (digits, mnist, fashion-mnist); "
                       f"{data.name} has inputs of shape {data.input_shape}")
    return data.input_shape


def _cnn(args, data: Data, n_classes: int):
    from . import models

    channels, height, _ = _image_shape(data, "cnn")
    return models.lenet5(in_channels=channels, num_classes=n_classes, image_size=height,
                         activation=args.activation)


def _lstm(args, data: Data, n_classes: int):
    from . import models

    _, height, width = _image_shape(data, "lstm")
    if len(set(args.hidden)) != 1:
        raise CLIError(f"--model lstm stacks layers of one width: give --hidden 128 or "
                       f"128,128, not {','.join(map(str, args.hidden))}")
    # The image's rows are the time steps, each row's pixels one step's input.
    return models.rnn_classifier(input_size=width, hidden_size=args.hidden[0],
                                 num_classes=n_classes, cell="lstm",
                                 num_layers=len(args.hidden))


# name -> (builder(args, data, n_classes), options that apply to it).
MODELS = {
    "mlp": (_mlp, {"hidden", "activation", "dropout"}),
    "perceptron": (_perceptron, set()),
    "cnn": (_cnn, {"activation"}),
    "lstm": (_lstm, {"hidden"}),
}
# Defaults that differ by model: an LSTM reads rows with one layer of 128 units.
MODEL_DEFAULTS = {"lstm": {"hidden": [128]}}

# name -> (class name in nabla.optim, default lr, options that apply to it)
OPTIMIZERS = {
    "sgd": ("SGD", 0.02, {"momentum": 0.9}),
    "adam": ("Adam", 3e-3, {}),
    "adamw": ("AdamW", 3e-3, {}),
    "rmsprop": ("RMSprop", 1e-3, {"momentum": 0.0}),
    "adagrad": ("Adagrad", 0.05, {}),
}

LOSSES = ("cross-entropy", "mse")


class MSEOnClasses:
    """Mean squared error between the outputs and one-hot class targets."""

    def __init__(self, n_classes: int):
        from . import nn

        self.eye = np.eye(n_classes, dtype=np.float32)
        self.mse = nn.MSELoss()

    def __call__(self, output, target):
        from .creation import from_numpy

        return self.mse(output, from_numpy(self.eye[target.numpy()]))


def make_loss(name: str, n_classes: int):
    from . import nn

    if name == "cross-entropy":
        return nn.CrossEntropyLoss()
    if name == "mse":
        return MSEOnClasses(n_classes)
    raise CLIError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")


def make_optimizer(cfg: dict, params):
    from . import optim

    cls_name, _, extra = OPTIMIZERS[cfg["optimizer"]]
    kwargs = {"lr": cfg["lr"]}
    if "momentum" in extra:
        kwargs["momentum"] = cfg["momentum"]
    try:
        return getattr(optim, cls_name)(params, **kwargs)
    except ValueError as e:
        raise CLIError(f"--optimizer {cfg['optimizer']}: {e}") from None


# ------------------------------------------------------------------------- arguments

def _hidden(text: str) -> list:
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expects positive layer widths separated by commas, like 128,64; got {text!r}")
    return widths


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a {kind.__name__}, got {text!r}") from None
        if not value > 0 or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text!r}")
    return value


# Training options with their defaults. Parsed with default None so that we know which
# ones the user gave: on --resume the checkpoint's values fill in the others. The
# defaults (SGD, momentum 0.9, lr 0.02, 30 epochs of batch 32 on standardised inputs)
# reach 0.958-0.981 test accuracy on the digits for each of the seeds 0-29 we tried;
# lr 0.05 does as well there but oscillates on MNIST's 784 standardised pixels.
TRAIN_DEFAULTS = {
    "dataset": "digits", "model": "mlp", "hidden": [128, 64], "activation": "relu",
    "dropout": 0.0, "loss": "cross-entropy", "optimizer": "sgd", "lr": None,
    "momentum": None, "batch_size": 32, "epochs": 30, "seed": 0, "val_fraction": 0.1,
}
# Options whose change would make a resumed run differ from the one it continues.
_RESUME_FIXED = ("dataset", "model", "hidden", "activation", "dropout", "loss", "optimizer",
                 "lr", "momentum", "batch_size", "seed", "val_fraction")


def _resolve(args, base: dict | None = None) -> dict:
    """The training configuration: given options over ``base`` (a checkpoint's) over
    the defaults; then the optimizer-dependent defaults, and consistency checks."""
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS if getattr(args, k) is not None}
    if base is not None:
        for k in _RESUME_FIXED:
            if k in given and given[k] != base.get(k):
                raise CLIError(f"--{k.replace('_', '-')} {_show(given[k])} differs from the "
                               f"checkpoint's {_show(base.get(k))}; a resumed run keeps its "
                               "settings (leave the option out)")
        return _drop_unused({**TRAIN_DEFAULTS, **base, **given}, base)
    cfg = {**TRAIN_DEFAULTS, **MODEL_DEFAULTS.get(given.get("model"), {}), **given}
    if cfg["dataset"] not in DATASETS:
        raise CLIError(f"unknown dataset {cfg['dataset']!r}; choose from {', '.join(DATASETS)}")
    model_options = MODELS[cfg["model"]][1]
    for option in ("hidden", "activation", "dropout"):
        if option in given and option not in model_options:
            raise CLIError(f"--{option} does not apply to --model {cfg['model']}")
    _, default_lr, extra = OPTIMIZERS[cfg["optimizer"]]
    if cfg["lr"] is None:
        cfg["lr"] = default_lr
    if "momentum" in extra:
        cfg["momentum"] = extra["momentum"] if cfg["momentum"] is None else cfg["momentum"]
    elif cfg["momentum"] is not None:
        raise CLIError(f"--momentum does not apply to --optimizer {cfg['optimizer']} "
                       f"(only to {', '.join(k for k, v in OPTIMIZERS.items() if v[2])})")
    return _drop_unused(cfg, given)


def _drop_unused(cfg: dict, given: dict) -> dict:
    """Forget the defaults of options that do not apply to the chosen model."""
    for option in ("hidden", "activation", "dropout"):
        if option not in MODELS[cfg["model"]][1] and option not in given:
            cfg.pop(option, None)
    return cfg


def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _run_dir(cfg: dict, out: str | None) -> Path:
    if out:
        return Path(out)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{stamp}-{cfg['dataset']}-{cfg['model']}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def _split_validation(data: Data, fraction: float, seed: int):
    n = len(data.X_train)
    n_val = int(round(n * fraction))
    if fraction and not 0 < n_val < n:
        raise CLIError(f"--val-fraction {fraction} leaves no validation or no training "
                       f"samples out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return (data.X_train[train], data.y_train[train]), (data.X_train[val], data.y_train[val])


def _print_confusion(cm: np.ndarray, classes: list) -> None:
    labels = [str(c) for c in classes]
    if max(map(len, labels)) > 6:  # long names (Fashion-MNIST): use the indices
        labels = [str(i) for i in range(len(classes))]
    width = max(max(map(len, labels)), len(str(cm.max()))) + 1
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(" " * width + " " + "".join(label.rjust(width) for label in labels))
    for label, row in zip(labels, cm):
        print(label.rjust(width) + " " + "".join(str(v).rjust(width) for v in row))


def _report(model, loss_fn, X, y, classes, what: str, quiet: bool) -> dict:
    from .train import evaluate, metrics, predict

    result = evaluate(model, loss_fn, (X, y), batch_size=512)
    pred = predict(model, X, batch_size=512, classes=True).numpy()
    cm = metrics.confusion_matrix(y, pred, num_classes=len(classes))
    correct = int(np.trace(cm))
    print(f"{what} loss: {result['loss']:.4f}")
    print(f"{what} accuracy: {result['accuracy']:.4f} ({correct}/{len(y)})")
    if not quiet:
        prf = metrics.precision_recall_f1(y, pred, num_classes=len(classes))
        print(f"{what} macro F1: {prf['macro_f1']:.4f}")
        _print_confusion(cm, classes)
    return {"loss": result["loss"], "accuracy": result["accuracy"], "confusion": cm,
            "pred": pred}


# ----------------------------------------------------------------------------- train

def _train(args) -> int:
    import nabla

    from . import io
    from .data import DataLoader, TensorDataset
    from .train import EarlyStopping, History, ModelCheckpoint, TerminateOnNaN, fit

    resume_state = None
    if args.resume:
        if not os.path.isfile(args.resume):
            raise CLIError(f"checkpoint not found: {args.resume}")
        resume_state, _, _ = io.read_checkpoint(args.resume)
        extra = resume_state.get("extra") or {}
        if "config" not in extra:
            raise CLIError(f"{args.resume}: not a checkpoint written by 'nabla train' "
                           "(it records no training configuration)")
        cfg = _resolve(args, base=extra["config"])
    else:
        cfg = _resolve(args)
    quiet = args.quiet

    data = load_data(argparse.Namespace(**{**vars(args), "dataset": cfg["dataset"]}))
    (Xtr, ytr), (Xval, yval) = _split_validation(data, cfg["val_fraction"], cfg["seed"])
    norm = Normalizer.fit(Xtr)
    n_classes = len(data.classes)
    out = Path(args.out) if args.out else (
        Path(args.resume).parent if args.resume else _run_dir(cfg, None))
    out.mkdir(parents=True, exist_ok=True)

    nabla.manual_seed(cfg["seed"])
    builder, _ = MODELS[cfg["model"]]
    model = builder(argparse.Namespace(**cfg), data, n_classes)
    loss_fn = make_loss(cfg["loss"], n_classes)
    optimizer = make_optimizer(cfg, model.parameters())
    generator = nabla.Generator().manual_seed(cfg["seed"])
    train_loader = DataLoader(TensorDataset(norm(Xtr), ytr), batch_size=cfg["batch_size"],
                              shuffle=True, generator=generator)
    val_loader = (DataLoader(TensorDataset(norm(Xval), yval), batch_size=512)
                  if len(Xval) else None)

    initial_epoch, initial_step, history = 0, None, None
    if resume_state is not None:
        info = io.load_checkpoint(args.resume, model, optimizer, generator=generator)
        initial_epoch, initial_step = info["epoch"], info["step"]
        history = History.from_dict(info["extra"]["history"])
        if initial_epoch > cfg["epochs"]:
            raise CLIError(f"the checkpoint has already trained {initial_epoch} epochs; "
                           f"ask for more with --epochs (got {cfg['epochs']})")

    data_meta = {"dataset": data.name, "kind": data.kind, "input_shape": list(data.input_shape),
                 "classes": data.classes, "max_value": data.max_value, **norm.to_json()}
    n_params = sum(p.numel() for p in model.parameters())
    if not quiet:
        layers = "-".join(map(str, [data.in_features, *cfg.get("hidden", []), n_classes]))
        shape = (f"mlp {layers} ({cfg['activation']})" if cfg["model"] == "mlp"
                 else f"{cfg['model']} {data.in_features}-{n_classes}")
        momentum = f", momentum {cfg['momentum']}" if cfg.get("momentum") is not None else ""
        print(f"nabla train: {data.name}: {len(Xtr)} training, {len(Xval)} validation, "
              f"{len(data.X_test)} test samples; {n_classes} classes")
        print(f"model: {shape}, {n_params:,} parameters; {cfg['loss']} loss, "
              f"{cfg['optimizer']} lr {cfg['lr']:g}{momentum}, batch {cfg['batch_size']}, "
              f"{cfg['epochs']} epochs, seed {cfg['seed']}")
        if initial_epoch:
            print(f"resuming from {args.resume} after epoch {initial_epoch}")
        print(f"run directory: {out}", flush=True)

    # The checkpoint records the configuration too, so --resume needs nothing else, and
    # the data preparation, so `evaluate` and `predict` accept it like a model file.
    checkpoint = out / "checkpoint.safetensors"
    callbacks = [TerminateOnNaN(),
                 ModelCheckpoint(checkpoint, training_state=True, extra={"config": dict(cfg)},
                                 metadata={"nabla_data": json.dumps(data_meta),
                                           "nabla_train": json.dumps(cfg)})]
    if args.patience is not None:
        callbacks.insert(1, EarlyStopping("val_loss" if val_loader else "loss",
                                          patience=args.patience, restore_best=True))
    t0 = time.perf_counter()
    try:
        history = fit(model, loss_fn, optimizer, train_loader, cfg["epochs"],
                      val_data=val_loader, callbacks=callbacks, verbose=0 if quiet else 1,
                      initial_epoch=initial_epoch, initial_step=initial_step, history=history)
    except KeyboardInterrupt:
        if checkpoint.is_file():
            raise CLIError(f"interrupted; continue with: nabla train --resume {checkpoint}",
                           code=130) from None
        raise
    elapsed = time.perf_counter() - t0
    if not quiet:
        print(f"trained {len(history) - initial_epoch} epochs in {elapsed:.2f}s")
    if history.stop_reason and history.stop_reason.startswith("TerminateOnNaN"):
        raise CLIError(f"{history.stop_reason}: lower --lr")

    test = _report(model, loss_fn, norm(data.X_test), data.y_test, data.classes, "test", quiet)
    train_meta = {**cfg, "epochs_trained": len(history), "test_accuracy": test["accuracy"],
                  "test_loss": test["loss"]}
    io.save(model, out / "model.safetensors",
            metadata={"nabla_data": json.dumps(data_meta), "nabla_train": json.dumps(train_meta)})
    history.to_csv(out / "history.csv")
    saved = ["model.safetensors", "history.csv", "checkpoint.safetensors"]
    if not args.no_plots:
        title = f"{data.name}, {cfg['model']}: test accuracy {test['accuracy']:.4f}"
        saved += save_plots(out, model, data, norm, history, test["confusion"], test["pred"],
                            title)
    print(f"saved to {out}: {', '.join(saved)}")
    return 0


# -------------------------------------------------------------------------- evaluate

def _load_model(path: str):
    from . import io

    if not os.path.isfile(path):
        raise CLIError(f"model file not found: {path}")
    model, meta = io.load_model(path, return_metadata=True)
    try:
        data_meta = json.loads(meta.get("nabla_data", "null"))
        train_meta = json.loads(meta.get("nabla_train", "null")) or {}
    except ValueError as e:
        raise CLIError(f"{path}: damaged metadata ({e})") from None
    return model, data_meta, train_meta


def _evaluate(args) -> int:
    model, data_meta, train_meta = _load_model(args.model)
    if data_meta is None and not args.dataset:
        raise CLIError(f"{args.model} does not record its dataset: pass --dataset")
    name = args.dataset or data_meta["dataset"]
    data = load_data(argparse.Namespace(**{**vars(args), "dataset": name}))
    if data_meta is not None:
        if list(data.input_shape) != data_meta["input_shape"] or \
                len(data.classes) != len(data_meta["classes"]):
            raise CLIError(f"{args.model} was trained on {data_meta['dataset']} (inputs "
                           f"{tuple(data_meta['input_shape'])}, {len(data_meta['classes'])} "
                           f"classes); {name} has inputs {data.input_shape} and "
                           f"{len(data.classes)} classes")
        norm = Normalizer(data_meta["mean"], data_meta["std"])
    else:
        norm = Normalizer(np.zeros(data.in_features), np.ones(data.in_features))
    X, y = (data.X_test, data.y_test) if args.split == "test" else (data.X_train, data.y_train)
    loss_fn = make_loss(train_meta.get("loss", "cross-entropy"), len(data.classes))
    print(f"nabla evaluate: {args.model} on {name} ({args.split} split, {len(y)} samples)")
    _report(model, loss_fn, norm(X), y, data.classes, args.split, args.quiet)
    return 0


# --------------------------------------------------------------------------- predict

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _read_image(path: str, shape: tuple, max_value: float, invert: str) -> np.ndarray:
    """An image file as one sample in the dataset's raw grey levels (0..max_value)."""
    try:
        from PIL import Image
    except ImportError:
        raise CLIError("reading images needs Pillow: pip install pillow (or give .npy "
                       "arrays)") from None
    try:
        with Image.open(path) as img:
            grey = img.convert("L")
    except OSError as e:
        raise CLIError(f"{path}: cannot read the image ({e})") from None
    height, width = shape[-2], shape[-1]
    if grey.size != (width, height):
        # Area averaging when shrinking is how the UCI digits were made (32x32 bitmaps
        # counted in 4x4 blocks) and what keeps thin strokes visible.
        shrinking = grey.size[0] >= width and grey.size[1] >= height
        grey = grey.resize((width, height),
                           Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR)
    a = np.asarray(grey, dtype=np.float32) / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if invert == "yes" or (invert == "auto" and border.mean() > 0.5):
        a = 1.0 - a  # dark ink on light paper -> the datasets' light ink on black
    return (a * max_value).reshape(shape)


def _read_npy(path: str, shape: tuple) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)  # never unpickle: an .npy may not run code
    except (ValueError, OSError) as e:
        raise CLIError(f"{path}: not a readable .npy array ({e})") from None
    if a.dtype.kind not in "biuf":
        raise CLIError(f"{path}: expected numbers, got dtype {a.dtype}")
    n = int(np.prod(shape))
    if a.size == n:
        return a.reshape((1, *shape)).astype(np.float32)
    if a.ndim >= 2 and a.size % n == 0 and int(np.prod(a.shape[1:])) == n:
        return a.reshape((-1, *shape)).astype(np.float32)
    raise CLIError(f"{path}: array of shape {a.shape} does not hold samples of shape {shape}")


def _predict(args) -> int:
    from .creation import from_numpy
    from .train import predict

    model, data_meta, train_meta = _load_model(args.model)
    if data_meta is None:
        raise CLIError(f"{args.model} does not record how its inputs were prepared")
    shape = tuple(data_meta["input_shape"])
    max_value = float(data_meta["max_value"])
    classes = data_meta["classes"]
    norm = Normalizer(data_meta["mean"], data_meta["std"])
    samples, names = [], []
    for path in args.inputs:
        if not os.path.isfile(path):
            raise CLIError(f"input file not found: {path}")
        suffix = Path(path).suffix.lower()
        if suffix == ".npy":
            batch = _read_npy(path, shape) / max_value
            names += [path] if len(batch) == 1 else [f"{path}[{i}]" for i in range(len(batch))]
        elif suffix in _IMAGE_SUFFIXES:
            if data_meta["kind"] != "image":
                raise CLIError(f"{path}: {args.model} was trained on {data_meta['dataset']} "
                               f"points, not images; give an .npy of shape {shape}")
            batch = (_read_image(path, shape, max_value, args.invert) / max_value)[None]
            names.append(path)
        else:
            raise CLIError(f"{path}: unsupported input type {suffix or '(none)'}: give PNG/JPEG "
                           "images or .npy arrays")
        samples.append(batch.astype(np.float32))
    X = norm(np.concatenate(samples))
    out = predict(model, from_numpy(X)).numpy().astype(np.float64)
    if train_meta.get("loss", "cross-entropy") == "cross-entropy":
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        scores, label = shifted / shifted.sum(axis=1, keepdims=True), "probability"
    else:
        scores, label = out, "score"
    top = min(args.top, scores.shape[1])
    for name, row in zip(names, scores):
        best = np.argsort(-row, kind="stable")[:top]
        parts = [f"{classes[i]} ({label} {row[i]:.4f})" for i in best]
        print(f"{name}: {parts[0]}" + (f"; then {', '.join(parts[1:])}" if top > 1 else ""))
    return 0


# ---------------------------------------------------------------------------- plots

def save_plots(out: Path, model, data: Data, norm: Normalizer, history, confusion, pred,
               title: str) -> list:
    """Draw a run's pictures into ``out`` and return their file names: the training
    curves and the confusion matrix; for images, the misclassified test images and the
    first layer's weights as images (a model that starts with a Linear layer) or its
    filters and feature maps (one that starts with a Conv2d); for 2-D points, the
    decision boundary."""
    from . import viz

    saved = []
    if history is not None and len(history):
        viz.plot_history(history, path=out / "history.png", title=title)
        saved.append("history.png")
    viz.plot_confusion_matrix(confusion, data.classes, path=out / "confusion_matrix.png")
    saved.append("confusion_matrix.png")
    if data.kind == "image":
        viz.plot_misclassified(data.X_test, data.y_test, pred, n=25, class_names=data.classes,
                               path=out / "misclassified.png")
        saved.append("misclassified.png")
        first = _first_weighted(model)
        channels, height, width = (1, 1, *data.input_shape)[-3:]
        from .nn import Linear
        from .nn.layers.conv import Conv2d

        if isinstance(first, Linear) and first.in_features == data.in_features \
                and channels == 1:
            viz.plot_first_layer_weights(first.weight.detach(), (height, width), n=64,
                                         path=out / "first_layer_weights.png")
            saved.append("first_layer_weights.png")
        elif isinstance(first, Conv2d):
            viz.plot_filters(first, path=out / "filters.png")
            # What the first test image looks like inside the network.
            viz.plot_feature_maps(model, norm(data.X_test[:1])[0],
                                  path=out / "feature_maps.png")
            saved += ["filters.png", "feature_maps.png"]
    elif data.X_test.ndim == 2 and data.X_test.shape[1] == 2:
        from .creation import from_numpy

        def classify(points):  # the model sees standardised points, the plot raw ones
            return model(from_numpy(norm(points.numpy())))

        X = np.concatenate([data.X_train, data.X_test])
        y = np.concatenate([data.y_train, data.y_test])
        viz.plot_decision_boundary(classify, X, y, resolution=150, class_names=data.classes,
                                   path=out / "decision_boundary.png")
        saved.append("decision_boundary.png")
    return saved


def _first_weighted(model):
    """The first layer that has weights of its own (an MLP's first Linear, a CNN's
    first Conv2d), or None."""
    for m in model.modules():
        if any(True for _ in m.parameters(recurse=False)):
            return m
    return None


def _plot(args) -> int:
    from .train import History, metrics, predict

    run = Path(args.run_dir)
    if not run.is_dir():
        raise CLIError(f"run directory not found: {run}")
    history_file = run / "history.csv"
    model_file = run / "model.safetensors"
    if not model_file.is_file() and (run / "checkpoint.safetensors").is_file():
        model_file = run / "checkpoint.safetensors"  # an interrupted run has only this
    missing = [p.name for p in (history_file, model_file) if not p.is_file()]
    if missing:
        raise CLIError(f"{run} has no {' or '.join(missing)}: give a run directory written "
                       "by 'nabla train'")
    history = History.from_csv(history_file)
    model, data_meta, train_meta = _load_model(str(model_file))
    if data_meta is None:
        raise CLIError(f"{model_file} does not record its dataset, so the test images "
                       "cannot be found again")
    data = load_data(argparse.Namespace(**{**vars(args), "dataset": data_meta["dataset"]}))
    if list(data.input_shape) != data_meta["input_shape"]:
        raise CLIError(f"{model_file} expects inputs {tuple(data_meta['input_shape'])}, but "
                       f"{data.name} now has {data.input_shape}")
    norm = Normalizer(data_meta["mean"], data_meta["std"])
    pred = predict(model, norm(data.X_test), batch_size=512, classes=True).numpy()
    cm = metrics.confusion_matrix(data.y_test, pred, num_classes=len(data.classes))
    accuracy = float(np.trace(cm)) / max(len(pred), 1)
    title = f"{data.name}, {train_meta.get('model', 'model')}: test accuracy {accuracy:.4f}"
    saved = save_plots(run, model, data, norm, history, cm, pred, title)
    print(f"saved to {run}: {', '.join(saved)}")
    return 0


# ----------------------------------------------------------------------------- graph

def _graph(args) -> int:
    from . import viz

    model, data_meta, _ = _load_model(args.model)
    shape = (1, *data_meta["input_shape"]) if data_meta else None
    fmt = args.format or (Path(args.out).suffix[1:].lower() if args.out else "") or "dot"
    if fmt not in GRAPH_FORMATS:
        raise CLIError(f"unknown graph format {fmt!r}; choose from {', '.join(GRAPH_FORMATS)}")
    if args.trace:
        if shape is None:
            raise CLIError(f"{args.model} does not record its input shape, so no input can "
                           "be traced through it; drop --trace for the layer graph")
        import nabla

        model.eval()
        output = model(nabla.zeros(*shape))
        graph = viz.draw(output, rankdir=args.rankdir or "LR", max_nodes=args.max_nodes,
                         params=dict(model.named_parameters()), names={output: "output"})
    else:
        graph = viz.draw_model(model, shape, rankdir=args.rankdir or "TB")
    if args.out is None and fmt == "dot":
        print(graph.source)
        return 0
    out = args.out or str(Path(args.model).with_suffix(f".{fmt}"))
    try:
        graph.render(out, fmt)
    except RuntimeError as e:
        raise CLIError(f"{e}; --format dot writes the DOT text without Graphviz") from None
    print(f"saved to {out}")
    return 0


GRAPH_FORMATS = ("dot", "svg", "png", "pdf")


# ---------------------------------------------------------------------------- parser

def _add_train(sub) -> None:
    train = sub.add_parser(
        "train", help="train a model on a dataset and save it (default: an MLP on digits)",
        description="Train a model and save model.safetensors, history.csv, "
                    "checkpoint.safetensors and plots (history.png, confusion_matrix.png, "
                    "misclassified.png, first_layer_weights.png; decision_boundary.png for "
                    "2-D points) in the run directory (runs/<time>-<dataset>-<model> unless "
                    "--out). With no options: an MLP on the bundled 8x8 digits, in seconds.")
    d = TRAIN_DEFAULTS
    train.add_argument("--dataset", choices=list(DATASETS),
                       help=f"what to learn (default {d['dataset']})")
    train.add_argument("--data-dir", metavar="DIR",
                       help="where the MNIST/Fashion-MNIST IDX files are (default "
                            "~/.cache/nabla/<name>)")
    train.add_argument("--download", action="store_true",
                       help="download MNIST/Fashion-MNIST files that are missing")
    train.add_argument("--model", choices=list(MODELS), help=f"default {d['model']}")
    train.add_argument("--hidden", type=_hidden, metavar="W1,W2,...",
                       help="hidden layer widths of the MLP (default 128,64); for lstm, "
                            "its hidden size, one width per stacked layer (default 128)")
    train.add_argument("--activation", choices=sorted(_activation_names()),
                       help=f"activation of the MLP or CNN (default {d['activation']})")
    train.add_argument("--dropout", type=_fraction, help="MLP dropout probability (default 0)")
    train.add_argument("--loss", choices=LOSSES, help=f"default {d['loss']}")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"default {d['optimizer']}")
    train.add_argument("--lr", type=_positive(float),
                       help="learning rate (default: sgd 0.02, adam/adamw 0.003, adagrad 0.05, "
                            "rmsprop 0.001)")
    train.add_argument("--momentum", type=_non_negative_float,
                       help="momentum of sgd (default 0.9) or rmsprop (default 0)")
    train.add_argument("--batch-size", type=_positive(int), help=f"default {d['batch_size']}")
    train.add_argument("--epochs", type=_positive(int), help=f"default {d['epochs']}")
    train.add_argument("--val-fraction", type=_fraction,
                       help="share of the training split held out for validation "
                            f"(default {d['val_fraction']})")
    train.add_argument("--patience", type=_positive(int),
                       help="stop early after this many epochs without a better "
                            "validation loss, keeping the best weights (default: off)")
    train.add_argument("--seed", type=int, help=f"random seed (default {d['seed']})")
    train.add_argument("--out", metavar="DIR", help="run directory to write to")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue a run from its checkpoint.safetensors (to --epochs); "
                            "the result equals an uninterrupted run bit for bit")
    train.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="print only the results (no progress, no confusion matrix)")
    train.set_defaults(run=_train)


def _add_evaluate(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="measure a saved model on a dataset",
                              description="Print the loss, accuracy and confusion matrix of a "
                                          "model file on its dataset's test split.")
    evaluate.add_argument("model", metavar="MODEL", help="a model.safetensors from nabla train")
    evaluate.add_argument("--dataset", choices=list(DATASETS),
                          help="default: the dataset the model was trained on")
    evaluate.add_argument("--data-dir", metavar="DIR", help="where MNIST-like files are")
    evaluate.add_argument("--download", action="store_true", help="download missing files")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument("--quiet", "-q", action="store_true", help="loss and accuracy only")
    evaluate.set_defaults(run=_evaluate)


def _add_predict(sub) -> None:
    pred = sub.add_parser("predict", help="classify images or arrays with a saved model",
                          description="Print each input's predicted class and its probability. "
                                      "Images (PNG, JPEG, ...) are turned grey, resized to the "
                                      "model's input size and scaled like its training data; "
                                      ".npy arrays hold one sample or a batch in the dataset's "
                                      "raw units (grey levels 0..16 for digits, 0..255 for "
                                      "MNIST; features for the point sets).")
    pred.add_argument("model", metavar="MODEL", help="a model.safetensors from nabla train")
    pred.add_argument("inputs", metavar="INPUT", nargs="+", help="image or .npy files")
    pred.add_argument("--top", type=_positive(int), default=1,
                      help="also show the runners-up (default 1)")
    pred.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                      help="dark ink on light paper is inverted to the datasets' light ink "
                           "on black; auto decides from the image's border (default)")
    pred.set_defaults(run=_predict)


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="train a tiny network on XOR and print its loss")
    demo.add_argument("--steps", type=_positive(int), default=2000)
    demo.add_argument("--lr", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)


def _add_graph(sub) -> None:
    graph = sub.add_parser(
        "graph", help="draw a saved model's layers (or a traced forward pass) as a graph",
        description="Draw a model file's layer graph: a box per layer with its parameters' "
                    "shapes and output shape. DOT text (printed, or written to --out) needs "
                    "nothing installed; svg/png/pdf are rendered by Graphviz's `dot`.")
    graph.add_argument("model", metavar="MODEL_FILE", help="a model.safetensors from nabla train")
    graph.add_argument("--out", metavar="FILE",
                       help="where to write (default: print DOT text; for svg/png/pdf, the "
                            "model file's name with that suffix)")
    graph.add_argument("--format", choices=GRAPH_FORMATS,
                       help="default: from --out's suffix, else dot")
    graph.add_argument("--trace", action="store_true",
                       help="draw the backward graph of one forward pass (ops, parameters) "
                            "instead of the layer chain")
    graph.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"),
                       help="direction of the drawing (default TB, LR with --trace)")
    graph.add_argument("--max-nodes", type=_positive(int), default=200,
                       help="with --trace: draw at most this many nodes (default 200)")
    graph.set_defaults(run=_graph)


def _add_plot(sub) -> None:
    plot = sub.add_parser(
        "plot", help="redraw a training run's plots from its saved files",
        description="Redraw history.png, confusion_matrix.png, misclassified.png and "
                    "first_layer_weights.png (decision_boundary.png for 2-D points) in a "
                    "run directory from its history.csv, its model file and its dataset.")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of nabla train")
    plot.add_argument("--data-dir", metavar="DIR", help="where MNIST-like files are")
    plot.add_argument("--download", action="store_true", help="download missing files")
    plot.set_defaults(run=_plot)


def _export(args) -> int:
    from .io.onnx import export_main

    return export_main(args.model, args.output, opset=args.opset)


def _add_export(sub) -> None:
    export = sub.add_parser(
        "export", help="export a saved model to ONNX",
        description="Write a model file as an ONNX graph (needs the onnx package: "
                    "pip install 'nabla[onnx]'). The graph takes the standardised inputs "
                    "the model was trained on; their mean and std are in its metadata.")
    export.add_argument("model", metavar="MODEL_FILE", help="a model.safetensors from nabla train")
    export.add_argument("output", metavar="OUTPUT", help="the .onnx file to write")
    export.add_argument("--opset", type=_positive(int), default=17,
                        help="ONNX opset version (default 17)")
    export.set_defaults(run=_export)


# The subcommands, in the order --help lists them: each function adds one to the
# subparsers; a new command is a function appended here.
COMMANDS = [_add_train, _add_evaluate, _add_predict, _add_graph, _add_plot, _add_export,
            _add_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nabla", description="nabla: neural networks from first principles")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _activation_names():
    # The names only: importing nabla.models (and nn) waits until a command runs.
    return ("relu", "tanh", "sigmoid", "leaky_relu", "gelu", "silu", "softplus")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if isinstance(e, FileNotFoundError) and e.filename and text.startswith("[Errno"):
        text = f"file not found: {e.filename}"
    return text or type(e).__name__


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from .io import CheckpointError

    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"nabla {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, CheckpointError, OSError, ValueError) as e:
        if os.environ.get("NABLA_DEBUG"):
            raise
        print(f"nabla {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return getattr(e, "code", 1) if isinstance(e, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
