"""Plots of training: loss/accuracy curves and confusion matrices (matplotlib).

matplotlib is imported inside the functions, so ``import nabla`` does not pay for it,
and figures are drawn with the Agg canvas directly (``matplotlib.figure.Figure``, not
``pyplot``): nothing needs a display, and the caller's pyplot backend and state are
left alone. Each function returns the ``Figure``; with ``path`` it also writes a PNG,
atomically.

>>> import os, tempfile
>>> from nabla.train import History
>>> h = History({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6],
...              "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.8]})
>>> path = os.path.join(tempfile.mkdtemp(), "history.png")
>>> fig = plot_history(h, path=path)
>>> len(fig.axes), open(path, "rb").read(4)
(2, b'\\x89PNG')
"""

from __future__ import annotations

import io as _io
import os

import numpy as np


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    return fig


def save_figure(fig, path, dpi: int = 100) -> None:
    """Write ``fig`` as a PNG to ``path`` atomically (never a half-written image)."""
    from ..io import atomic_write_bytes

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(os.fspath(path), buf.getvalue())


def plot_history(history, path=None, title: str | None = None):
    """Loss curves (left) and metric curves such as accuracy (right), training
    solid, validation dashed. ``history`` is a ``History`` or a dict of lists."""
    epochs = list(getattr(history, "epochs", [])) or None
    columns = {k: list(v) for k, v in history.items()}
    if epochs is None:
        n = max((len(v) for v in columns.values()), default=0)
        epochs = list(range(1, n + 1))
    names = [k for k in columns if k != "lr" and not k.startswith("val_")]
    losses = [k for k in names if "loss" in k]
    others = [k for k in names if "loss" not in k]
    panels = [p for p in (losses, others) if p] or [[]]
    fig = _figure(5.0 * len(panels), 3.8)
    for i, keys in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in keys:
            line, = ax.plot(epochs, columns[k], marker="o", markersize=3, label=k)
            if "val_" + k in columns:
                ax.plot(epochs, columns["val_" + k], linestyle="--", marker="o",
                        markersize=3, color=line.get_color(), label="val_" + k)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if keys is losses else "metric")
        ax.grid(True, alpha=0.3)
        if keys:
            ax.legend()
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_confusion_matrix(cm, class_names=None, path=None, normalize: bool = False,
                          title: str = "confusion matrix"):
    """A confusion matrix as a heat map with the counts written in the cells (rows:
    true class, columns: predicted class). ``normalize`` shows each row as fractions.

    >>> import numpy as np
    >>> fig = plot_confusion_matrix(np.array([[5, 1], [0, 4]]), ["cat", "dog"])
    >>> fig.axes[0].get_xlabel()
    'predicted'
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {cm.shape}")
    k = cm.shape[0]
    shown = cm.astype(np.float64)
    if normalize:
        rows = shown.sum(axis=1, keepdims=True)
        shown = np.divide(shown, rows, out=np.zeros_like(shown), where=rows != 0)
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    size = min(12.0, 2.0 + 0.5 * k)
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45 if max(map(len, names), default=0) > 2 else 0,
                       ha="right" if max(map(len, names), default=0) > 2 else "center")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 30:  # beyond that the numbers would not fit in the cells
        threshold = shown.max() / 2 if shown.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{shown[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if shown[i, j] > threshold else "black")
    if path is not None:
        save_figure(fig, path)
    return fig
