"""A run's pictures: drawn by ``nabla train`` and redrawn by ``nabla plot``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import Data, Normalizer, load_data
from .errors import CLIError
from .evaluate import _with_source
from .report import _load_model


def save_plots(out: Path, model, data: Data, norm: Normalizer, history, confusion, pred,
               title: str) -> list:
    """Draw a run's pictures into ``out`` and return their file names: the training
    curves and the confusion matrix; for images, the misclassified test images and the
    first layer's weights as images (a model that starts with a Linear layer) or its
    filters and feature maps (one that starts with a Conv2d); for 2-D points, the
    decision boundary."""
    from .. import viz

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
        from ..nn import Linear
        from ..nn.layers.conv import Conv2d

        if isinstance(first, Linear) and first.in_features == data.in_features \
                and channels == 1:
            viz.plot_first_layer_weights(first.weight.detach(), (height, width), n=64,
                                         path=out / "first_layer_weights.png")
            saved.append("first_layer_weights.png")
        elif isinstance(first, Conv2d):
            viz.plot_filters(first, path=out / "filters.png")
            # What the first test image looks like inside the network.
            viz.plot_feature_maps(model, norm(data.X_test[:1])[0],
                                  label=data.classes[int(data.y_test[0])],
                                  title=f"what the network sees in test image 0 "
                                        f"({data.name}): every stage, every channel",
                                  path=out / "feature_maps.png")
            saved += ["filters.png", "feature_maps.png"]
    elif data.X_test.ndim == 2 and data.X_test.shape[1] == 2:
        from ..creation import from_numpy

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
    from ..train import History, metrics, predict

    run = Path(args.run_dir)
    if run.is_file():
        raise CLIError(f"{run} is a file; give the run directory that holds it")
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
    data = load_data(_with_source(args, data_meta["dataset"], data_meta), splits=("test",))
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
