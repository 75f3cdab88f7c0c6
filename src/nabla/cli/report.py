"""Reading a model file of ``nabla train`` and printing a model's scores."""

from __future__ import annotations

import json
import os

import numpy as np

from .errors import CLIError


def _load_model(path: str):
    from .. import io

    if os.path.isdir(path):
        inside = os.path.join(path, "model.safetensors")
        hint = f": give {inside}" if os.path.isfile(inside) else ": give a model file"
        raise CLIError(f"{path} is a directory{hint}")
    if not os.path.isfile(path):
        raise CLIError(f"model file not found: {path}")
    model, meta = io.load_model(path, return_metadata=True)
    try:
        data_meta = json.loads(meta.get("nabla_data", "null"))
        train_meta = json.loads(meta.get("nabla_train", "null")) or {}
    except ValueError as e:
        raise CLIError(f"{path}: damaged metadata ({e})") from None
    return model, data_meta, train_meta


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
    from ..train import evaluate, metrics, predict

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
