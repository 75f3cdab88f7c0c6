"""Models, losses, optimizers and the training configuration: defaults, options
that apply to each model, and how a resumed run keeps its settings."""

from __future__ import annotations

import numpy as np

from .data import DATASETS, Data
from .errors import CLIError


def _mlp(args, data: Data, n_classes: int):
    from .. import models

    return models.mlp(data.in_features, hidden=tuple(args.hidden), out_features=n_classes,
                      activation=args.activation, dropout=args.dropout)


def _perceptron(args, data: Data, n_classes: int):
    from .. import models

    return models.perceptron(data.in_features, n_classes)


def _image_shape(data: Data, model: str) -> tuple:
    if data.kind != "image" or len(data.input_shape) != 3:
        raise CLIError(f"--model {model} needs images (digits, mnist, fashion-mnist); "
                       f"{data.name} has inputs of shape {data.input_shape}")
    return data.input_shape


def check_model(cfg: dict, data: Data) -> None:
    """Refuse a model that cannot take the data, before anything is built or written."""
    if cfg["model"] in ("cnn", "lstm"):
        _image_shape(data, cfg["model"])
    if cfg["model"] == "lstm" and len(set(cfg["hidden"])) != 1:
        raise CLIError(f"--model lstm stacks layers of one width: give --hidden 128 or "
                       f"128,128, not {','.join(map(str, cfg['hidden']))}")


def _cnn(args, data: Data, n_classes: int):
    from .. import models

    channels, height, _ = _image_shape(data, "cnn")
    return models.lenet5(in_channels=channels, num_classes=n_classes, image_size=height,
                         activation=args.activation)


def _lstm(args, data: Data, n_classes: int):
    from .. import models

    check_model(vars(args), data)
    _, height, width = data.input_shape
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
        from .. import nn

        self.eye = np.eye(n_classes, dtype=np.float32)
        self.mse = nn.MSELoss()

    def __call__(self, output, target):
        from ..creation import from_numpy

        return self.mse(output, from_numpy(self.eye[target.numpy()]))


def make_loss(name: str, n_classes: int):
    from .. import nn

    if name == "cross-entropy":
        return nn.CrossEntropyLoss()
    if name == "mse":
        return MSEOnClasses(n_classes)
    raise CLIError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")


def make_optimizer(cfg: dict, params):
    from .. import optim

    cls_name, _, extra = OPTIMIZERS[cfg["optimizer"]]
    kwargs = {"lr": cfg["lr"]}
    if "momentum" in extra:
        kwargs["momentum"] = cfg["momentum"]
    try:
        return getattr(optim, cls_name)(params, **kwargs)
    except ValueError as e:
        raise CLIError(f"--optimizer {cfg['optimizer']}: {e}") from None


# lr 0.05 does as well there but oscillates on MNIST's 784 standardised pixels.
TRAIN_DEFAULTS = {
    "dataset": "digits", "model": "mlp", "hidden": [128, 64], "activation": "relu",
    "dropout": 0.0, "loss": "cross-entropy", "optimizer": "sgd", "lr": None,
    "momentum": None, "batch_size": 32, "epochs": 30, "seed": 0, "val_fraction": 0.1,
    "patience": None,  # recorded, so that --resume stops where the straight run stops
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
