"""``nabla evaluate``: a saved model's scores on its dataset."""

from __future__ import annotations

import argparse

import numpy as np

from .config import make_loss
from .data import Normalizer, load_data
from .errors import CLIError
from .report import _load_model, _report


def _evaluate(args) -> int:
    model, data_meta, train_meta = _load_model(args.model)
    if data_meta is None and not args.dataset:
        raise CLIError(f"{args.model} does not record its dataset: pass --dataset")
    name = args.dataset or data_meta["dataset"]
    data = load_data(_with_source(args, name, data_meta), splits=(args.split,))
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


def _with_source(args, name: str, data_meta: dict | None) -> argparse.Namespace:
    """``args`` for loading dataset ``name``: without --data-dir, the directory the model
    was trained from (recorded in its file), so it need not be given again."""
    data_dir = args.data_dir
    if data_dir is None and data_meta and data_meta.get("dataset") == name:
        data_dir = data_meta.get("source")
    return argparse.Namespace(**{**vars(args), "dataset": name, "data_dir": data_dir})
