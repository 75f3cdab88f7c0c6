"""Plots (matplotlib): activation functions, training curves, learning-rate schedules,
cost surfaces with the path of gradient descent, decision boundaries, confusion
matrices, misclassified images, first-layer weights, conv filters and feature maps.

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

import copy
import io as _io
import math
import os

import numpy as np


def _figure(width: float, height: float, layout: str | None = None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Grids of panels use the constrained layout: it makes room for titles, suptitle
    # included, where tight_layout does not.
    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    return fig


def save_figure(fig, path, dpi: int = 100) -> None:
    """Write ``fig`` as a PNG to ``path`` atomically (never a half-written image)."""
    from ..io import atomic_write_bytes

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(os.fspath(path), buf.getvalue())


def plot_history(history, path=None, title: str | None = None):
    """Loss curves (left) and metric curves such as accuracy (middle), training
    solid, validation dashed; and the learning rate (right) when it changed during
    training. ``history`` is a ``History`` or a dict of lists, one value per epoch.

    >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.2, 0.8],
    ...                     "lr": [0.1, 0.01]})
    >>> [ax.get_ylabel() for ax in fig.axes], fig.axes[0].lines[1].get_linestyle()
    (['loss', 'learning rate'], '--')
    """
    epochs = list(getattr(history, "epochs", [])) or None
    columns = {k: list(v) for k, v in history.items()}
    if epochs is None:
        n = max((len(v) for v in columns.values()), default=0)
        epochs = list(range(1, n + 1))
    # A validation column whose training twin is missing is drawn on its own.
    names = [k for k in columns if k != "lr"
             and not (k.startswith("val_") and k[4:] in columns)]
    losses = [k for k in names if "loss" in k]
    others = [k for k in names if "loss" not in k]
    lrs = [v for v in columns.get("lr", []) if v == v]  # NaN-free
    lr_panel = ["lr"] if len(set(lrs)) > 1 else []
    panels = [(keys, label) for keys, label in
              ((losses, "loss"), (others, "metric"), (lr_panel, "learning rate")) if keys]
    panels = panels or [([], "loss")]
    fig = _figure(5.0 * len(panels), 3.8)
    for i, (keys, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in keys:
            val = k.startswith("val_")
            line, = ax.plot(epochs, columns[k], marker="o", markersize=3, label=k,
                            linestyle="--" if val else "-")
            if "val_" + k in columns:
                ax.plot(epochs, columns["val_" + k], linestyle="--", marker="o",
                        markersize=3, color=line.get_color(), label="val_" + k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if keys is lr_panel and min(lrs) > 0:
            ax.set_yscale("log")  # schedules decay geometrically
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


# ------------------------------------------------------------------------- helpers

def _np(x) -> np.ndarray:
    """A Tensor (detached), a Value list or anything array-like as a NumPy array."""
    data = getattr(x, "_data", None)
    if isinstance(data, np.ndarray):
        return data
    return np.asarray(x)


def _finish(fig, path, title=None):
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def _grid(n: int, cols: int | None = None) -> tuple[int, int]:
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


# --------------------------------------------------------------------- activations

def _activations():
    from ..nn import functional as F

    return {"step": F.step, "sigmoid": F.sigmoid, "tanh": F.tanh, "relu": F.relu,
            "softplus": F.softplus, "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
            "gelu": F.gelu, "silu": F.silu}


def plot_activations(names=None, x_range=(-5.0, 5.0), points: int = 401, path=None,
                     title: str | None = None):
    """Activation functions (solid) and their derivatives (dashed), one panel each.

    ``names`` picks from step, sigmoid, tanh, relu, softplus (the default five),
    leaky_relu (slope 0.1), gelu and silu. The derivatives are computed by nabla's own
    backward pass, so the picture also shows what backprop multiplies by: in each
    panel ``lines[0]`` is the function and ``lines[1]`` its derivative.

    >>> import numpy as np
    >>> fig = plot_activations(["sigmoid", "relu"], points=5)
    >>> ax = fig.axes[0]
    >>> ax.get_title(), ax.lines[0].get_xdata().tolist()
    ('sigmoid', [-5.0, -2.5, 0.0, 2.5, 5.0])
    >>> np.round(ax.lines[1].get_ydata(), 4).tolist()  # sigmoid * (1 - sigmoid)
    [0.0066, 0.0701, 0.25, 0.0701, 0.0066]
    """
    from ..creation import from_numpy

    table = _activations()
    names = list(names) if names is not None else ["step", "sigmoid", "tanh", "relu",
                                                    "softplus"]
    unknown = [n for n in names if n not in table]
    if unknown or not names:
        raise ValueError(f"unknown activation {unknown[0] if unknown else None!r}; choose "
                         f"from {', '.join(table)}")
    xs = np.linspace(float(x_range[0]), float(x_range[1]), int(points))
    rows, cols = _grid(len(names), min(len(names), 3))
    fig = _figure(3.6 * cols, 3.0 * rows, layout="constrained")
    for i, name in enumerate(names):
        x = from_numpy(xs.copy()).requires_grad_()
        y = table[name](x)
        if y.requires_grad:  # the step passes no gradient: its derivative is 0 (a.e.)
            y.sum().backward()
        dy = x.grad.numpy() if x.grad is not None else np.zeros_like(xs)
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot(xs, y.detach().numpy(), label=name, linewidth=2)
        ax.plot(xs, dy, linestyle="--", label="derivative")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    return _finish(fig, path, title)


# ---------------------------------------------------------------- learning rates

def plot_lr_schedule(scheduler_or_lrs, steps: int | None = None, path=None,
                     title: str | None = None):
    """The learning rate at each step of a schedule.

    ``scheduler_or_lrs`` is a scheduler from ``nabla.optim.lr_scheduler`` (stepped
    ``steps`` times on the side; it and its optimizer are put back as they were), a
    function ``step -> lr``, or a list of learning rates (``history["lr"]``). One line
    per parameter group.

    >>> import nabla
    >>> from nabla.optim import SGD
    >>> from nabla.optim.lr_scheduler import StepLR
    >>> opt = SGD([nabla.zeros(1, requires_grad=True)], lr=1.0)
    >>> fig = plot_lr_schedule(StepLR(opt, step_size=2, gamma=0.5), steps=5)
    >>> fig.axes[0].lines[0].get_ydata().tolist(), opt.param_groups[0]["lr"]
    ([1.0, 1.0, 0.5, 0.5, 0.25], 1.0)
    """
    from ..optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

    label = None
    if isinstance(scheduler_or_lrs, ReduceLROnPlateau):
        raise TypeError("ReduceLROnPlateau changes the rate when the validation loss "
                        "stalls, so it has no schedule to draw in advance: plot the "
                        "history's 'lr' column after training instead")
    if isinstance(scheduler_or_lrs, LRScheduler):
        steps = _steps(steps)
        sched = scheduler_or_lrs
        label = type(sched).__name__
        saved = copy.deepcopy(sched.state_dict())
        group_lrs = [g["lr"] for g in sched.optimizer.param_groups]
        lrs = []
        try:
            for _ in range(steps):
                lrs.append(list(sched.get_last_lr()))
                sched.step()
        finally:
            sched.load_state_dict(saved)
            for g, lr in zip(sched.optimizer.param_groups, group_lrs):
                g["lr"] = lr
        lrs = np.array(lrs, dtype=np.float64)
    elif callable(scheduler_or_lrs):
        steps = _steps(steps)
        lrs = np.array([[float(scheduler_or_lrs(k))] for k in range(steps)])
    else:
        lrs = np.asarray(scheduler_or_lrs, dtype=np.float64)
        if not lrs.size:
            raise ValueError("no learning rates to plot")
        lrs = lrs.reshape(len(lrs), -1) if lrs.ndim else lrs.reshape(1, 1)
    fig = _figure(6.0, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    marker = "o" if len(lrs) <= 60 else None
    for j in range(lrs.shape[1]):
        ax.plot(np.arange(len(lrs)), lrs[:, j], marker=marker, markersize=3,
                label=f"group {j}" if lrs.shape[1] > 1 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title or (f"{label}" if label else "learning-rate schedule"))
    ax.grid(True, alpha=0.3)
    if lrs.shape[1] > 1:
        ax.legend()
    return _finish(fig, path)


def _steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int for a scheduler or a function, "
                         f"got {steps!r}")
    return steps


# ------------------------------------------------------------------ cost surfaces

def plot_cost_surface(f, trajectory=None, xlim=None, ylim=None, resolution: int = 60,
                      levels: int = 30, labels=("w", "b"), log: bool = False,
                      vectorized: bool = False, path=None, title: str | None = None):
    """Contours of a cost ``f(a, b)`` of two parameters, with the path that gradient
    descent took across them.

    Args:
        f: the cost, called as ``f(a, b)`` with two float64 one-element tensors (the
            same function you gave ``nabla.optim.minimize`` with two parameters); with
            ``vectorized=True``, called once with two grid tensors and expected to
            return the grid of costs.
        trajectory: a ``MinimizeResult`` (its ``path``), or an array of shape (steps, 2)
            of points; drawn as a line, ``lines[0]``, from a start to an end marker.
        xlim, ylim: the ranges of the two parameters (default: around the trajectory).
        resolution: grid points per axis (the cost is evaluated resolution**2 times).
        levels: the number of contour levels; ``log``: space them logarithmically
            (for costs that span orders of magnitude, like most loss surfaces).
        labels: the names of the two parameters for the axes.

    >>> import nabla
    >>> from nabla.optim import minimize
    >>> cost = lambda w, b: (w - 1) ** 2 + 3 * (b + 1) ** 2
    >>> r = minimize(cost, [3.0, 1.0], lr=0.1)
    >>> fig = plot_cost_surface(cost, r, resolution=20)
    >>> line = fig.axes[0].lines[0]
    >>> bool((line.get_xdata() == r.path[:, 0]).all()), len(line.get_xdata()) == r.steps + 1
    (True, True)
    """
    if trajectory is not None:
        points = getattr(trajectory, "path", trajectory)
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"the trajectory must be points in two parameters, shape "
                             f"(steps, 2); got shape {points.shape}")
    else:
        points = None
    if xlim is None or ylim is None:
        if points is None:
            raise ValueError("give xlim and ylim (or a trajectory to frame the plot)")
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = np.maximum((hi - lo) * 0.25, 0.5)
        xlim = xlim or (lo[0] - pad[0], hi[0] + pad[0])
        ylim = ylim or (lo[1] - pad[1], hi[1] + pad[1])
    ws = np.linspace(float(xlim[0]), float(xlim[1]), int(resolution))
    bs = np.linspace(float(ylim[0]), float(ylim[1]), int(resolution))
    W, B = np.meshgrid(ws, bs)
    Z = _cost_grid(f, W, B, vectorized)
    fig = _figure(6.4, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    finite = Z[np.isfinite(Z)]
    if log and finite.size and finite.max() > 0:
        low = finite[finite > 0].min() if (finite > 0).any() else 1e-12
        lv = np.geomspace(low, finite.max(), int(levels))
    else:
        lv = int(levels)
    if points is not None:  # the path first, so that it is lines[0]
        ax.plot(points[:, 0], points[:, 1], "-o", color="#d62728", markersize=3,
                linewidth=1.5, label=f"gradient descent ({len(points) - 1} steps)")
        ax.plot(points[:1, 0], points[:1, 1], "s", color="white", markeredgecolor="black",
                markersize=8, label="start")
        ax.plot(points[-1:, 0], points[-1:, 1], "*", color="yellow",
                markeredgecolor="black", markersize=13, label="end")
    filled = ax.contourf(W, B, Z, levels=lv, cmap="viridis", alpha=0.85)
    ax.contour(W, B, Z, levels=lv, colors="black", linewidths=0.3, alpha=0.5)
    fig.colorbar(filled, ax=ax, label="cost", format="%.2g")  # log levels can be tiny
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_xlim(ws[0], ws[-1])
    ax.set_ylim(bs[0], bs[-1])
    ax.set_title(title or "cost surface")
    if points is not None:
        ax.legend(loc="best", fontsize=8)
    return _finish(fig, path)


def _cost_grid(f, W, B, vectorized: bool) -> np.ndarray:
    from ..autograd import no_grad
    from ..tensor import Tensor

    def number(out):
        return float(out._data.reshape(())) if isinstance(out, Tensor) else float(out)

    with no_grad():
        if vectorized:
            out = f(Tensor._wrap(W), Tensor._wrap(B))
            Z = np.asarray(_np(out), dtype=np.float64)
            if Z.shape != W.shape:
                raise ValueError(f"vectorized f returned shape {Z.shape} for a grid of "
                                 f"shape {W.shape}")
            return Z
        Z = np.empty(W.shape)
        for idx in np.ndindex(W.shape):
            Z[idx] = number(f(Tensor._wrap(np.array(W[idx])), Tensor._wrap(np.array(B[idx]))))
    return Z


# ------------------------------------------------------------- decision boundary

def plot_decision_boundary(model, X, y, resolution: int = 200, threshold: float | None = None,
                           class_names=None, path=None, title: str | None = None):
    """The regions a 2-D classifier assigns to each class, with the data on top.

    ``model`` is an ``nn.Module`` (or any function of an (N, 2) Tensor) returning
    one score per class (the arg-max wins) or one score per point (class 1 above
    ``threshold``: 0.5 for outputs within [0, 1], such as a sigmoid's, else 0), or a
    ``nabla.scalar`` network taking two numbers (evaluated point by point, so use a
    smaller ``resolution`` there).

    >>> import numpy as np, nabla
    >>> from nabla import nn
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]]); y = np.array([0, 1])
    >>> line = nn.Linear(2, 1)
    >>> with nabla.no_grad():
    ...     _ = line.weight.copy_(nabla.tensor([[1.0, 0.0]])); _ = line.bias.zero_()
    >>> fig = plot_decision_boundary(line, X, y, resolution=30)
    >>> [c.get_offsets().tolist() for c in fig.axes[0].collections[-2:]]
    [[[-1.0, 0.0]], [[1.0, 0.0]]]
    """
    X = np.asarray(_np(X), dtype=np.float64)
    y = np.asarray(_np(y)).astype(np.int64).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must hold 2-D points, shape (N, 2); got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"{len(X)} points but {len(y)} labels")
    span = X.max(axis=0) - X.min(axis=0)
    pad = np.maximum(span * 0.1, 0.5)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs = np.linspace(lo[0], hi[0], int(resolution))
    ys = np.linspace(lo[1], hi[1], int(resolution))
    gx, gy = np.meshgrid(xs, ys)
    scores = _scores(model, np.column_stack([gx.ravel(), gy.ravel()]))
    if scores.shape[1] == 1:
        s = scores[:, 0]
        if threshold is None:
            threshold = 0.5 if s.min() >= 0 and s.max() <= 1 else 0.0
        pred = (s > threshold).astype(np.int64)
    else:
        pred = scores.argmax(axis=1)
    k = int(max(pred.max(), y.max() if len(y) else 0)) + 1
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    fig = _figure(6.0, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    cmap = _class_cmap(k)
    ax.contourf(gx, gy, pred.reshape(gx.shape), levels=np.arange(k + 1) - 0.5, cmap=cmap,
                alpha=0.3, vmin=-0.5, vmax=k - 0.5)
    for c in range(k):
        pts = X[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=cmap(c), edgecolors="black",
                   linewidths=0.4, label=names[c] if c < len(names) else str(c))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    accuracy = float((_scores_to_labels(model, X, threshold) == y).mean()) if len(y) else 0.0
    ax.set_title(title or f"decision boundary (accuracy {accuracy:.3f})")
    ax.legend(loc="best", fontsize=8)
    return _finish(fig, path)


def _class_cmap(k: int):
    from matplotlib.colors import ListedColormap

    base = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]
    return ListedColormap([base[i % len(base)] for i in range(max(k, 1))])


def _scores_to_labels(model, X, threshold):
    scores = _scores(model, X)
    if scores.shape[1] == 1:
        return (scores[:, 0] > threshold).astype(np.int64)
    return scores.argmax(axis=1)


def _scores(model, points: np.ndarray) -> np.ndarray:
    """The model's outputs for (M, 2) points as an (M, k) float array."""
    from ..autograd import no_grad
    from ..creation import from_numpy
    from ..scalar.nn import Module as ScalarModule

    if isinstance(model, ScalarModule):
        rows = []
        for p in points.tolist():
            out = model(p)
            out = out if isinstance(out, list) else [out]
            rows.append([v.data for v in out])
        return np.array(rows, dtype=np.float64)
    was_training = getattr(model, "training", None)
    if was_training:
        model.eval()  # dropout off while drawing
    try:
        with no_grad():
            out = model(from_numpy(points.astype(np.float32)))
    finally:
        if was_training:
            model.train()
    out = np.asarray(_np(out), dtype=np.float64)
    return out.reshape(len(points), -1)


# ------------------------------------------------------------------------ images

def _as_images(images, image_shape=None) -> np.ndarray:
    """(N, H, W) from (N, H, W), (N, 1, H, W), (N, 3, H, W) -> first channel ... or
    (N, D) with ``image_shape`` (or square D)."""
    a = np.asarray(_np(images), dtype=np.float64)
    if image_shape is not None:
        return a.reshape(len(a), *image_shape)
    if a.ndim == 4:
        return a[:, 0] if a.shape[1] != 3 else a.transpose(0, 2, 3, 1)
    if a.ndim == 3:
        return a
    if a.ndim == 2:
        side = math.isqrt(a.shape[1])
        if side * side != a.shape[1]:
            raise ValueError(f"rows of {a.shape[1]} values are not square images: pass "
                             "image_shape=(height, width)")
        return a.reshape(len(a), side, side)
    raise ValueError(f"expected a batch of images (N, H, W), (N, C, H, W) or (N, H*W); got "
                     f"shape {a.shape}")


def plot_misclassified(images, y_true, y_pred, n: int = 25, class_names=None,
                       image_shape=None, path=None, title: str | None = None):
    """A grid of the first ``n`` images the model got wrong, each titled with its
    true and predicted class (``"true 3\\npred 8"``).

    ``images`` is (N, H, W), (N, 1, H, W) or flat (N, H*W) (square, or give
    ``image_shape``); ``y_true`` and ``y_pred`` are class indices. With nothing
    misclassified, the figure says so.

    >>> import numpy as np
    >>> imgs = np.zeros((4, 8, 8)); true = np.array([0, 1, 2, 3]); pred = np.array([0, 7, 2, 5])
    >>> fig = plot_misclassified(imgs, true, pred)
    >>> [ax.get_title() for ax in fig.axes]
    ['true 1\\npred 7', 'true 3\\npred 5']
    """
    y_true = np.asarray(_np(y_true)).ravel()
    y_pred = np.asarray(_np(y_pred)).ravel()
    imgs = _as_images(images, image_shape)
    if not len(imgs) == len(y_true) == len(y_pred):
        raise ValueError(f"{len(imgs)} images, {len(y_true)} true labels and {len(y_pred)} "
                         "predictions: they must match")
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:max(int(n), 0)]
    names = list(map(str, class_names)) if class_names is not None else None

    def name(c):
        return names[int(c)] if names is not None and 0 <= int(c) < len(names) else str(c)

    rows, cols = _grid(len(shown))
    fig = _figure(max(1.6 * cols, 3.0), 1.9 * rows + 0.4, layout="constrained")
    if not len(shown):
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    cmap = "gray" if imgs.ndim == 3 else None
    for i, idx in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(imgs[idx], cmap=cmap)
        ax.set_title(f"true {name(y_true[idx])}\npred {name(y_pred[idx])}", fontsize=9)
        ax.axis("off")
    default = (f"{len(wrong)} of {len(y_true)} misclassified"
               + (f" (first {len(shown)} shown)" if len(shown) < len(wrong) else ""))
    return _finish(fig, path, title or default)


def _first(model, kind: str):
    from ..nn import Linear
    from ..nn.layers.conv import Conv2d

    cls = {"linear": Linear, "conv": Conv2d}[kind]
    for m in model.modules():
        if isinstance(m, cls):
            return m
    raise ValueError(f"{type(model).__name__} has no {cls.__name__} layer")


def plot_first_layer_weights(weight_or_model, image_shape=None, n: int = 64,
                             cols: int | None = None, path=None, title: str | None = None):
    """Each hidden neuron's incoming weights drawn as an image: what pattern in the
    input excites it (red) or inhibits it (blue). All neurons share one colour scale,
    symmetric about zero (white), shown by the colour bar, so their strengths compare.

    ``weight_or_model`` is a weight matrix (hidden units, input pixels) or a model
    whose first ``Linear`` layer is drawn; ``image_shape`` is the input image's
    (height, width), default the square root of the number of inputs (28x28 for
    MNIST, 8x8 for the digits). Draws the first ``n`` neurons.

    >>> import numpy as np
    >>> w = np.arange(32.0).reshape(2, 16)
    >>> fig = plot_first_layer_weights(w)
    >>> bool((fig.axes[1].images[0].get_array() == w[1].reshape(4, 4)).all())
    True
    """
    from ..nn.module import Module

    if isinstance(weight_or_model, Module):
        layer = weight_or_model
        if not hasattr(layer, "weight") or layer.weight is None or layer.weight.ndim != 2:
            layer = _first(weight_or_model, "linear")
        weight_or_model = layer.weight
    w = np.asarray(_np(weight_or_model), dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"first-layer weights are a matrix (hidden units, inputs); got "
                         f"shape {w.shape}")
    if image_shape is None:
        side = math.isqrt(w.shape[1])
        if side * side != w.shape[1]:
            raise ValueError(f"{w.shape[1]} inputs are not a square image: pass "
                             "image_shape=(height, width)")
        image_shape = (side, side)
    if int(np.prod(image_shape)) != w.shape[1]:
        raise ValueError(f"image_shape {tuple(image_shape)} does not hold {w.shape[1]} inputs")
    shown = w[:max(int(n), 1)]
    rows, cols = _grid(len(shown), cols)
    fig = _figure(1.5 * cols + 0.8, 1.6 * rows + 0.4, layout="constrained")
    m = float(np.abs(shown).max()) or 1.0  # symmetric: white is a zero weight
    axes = []
    for i, row in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        image = ax.imshow(row.reshape(image_shape), cmap="RdBu_r", vmin=-m, vmax=m)
        ax.set_title(f"neuron {i}", fontsize=8)
        ax.axis("off")
        axes.append(ax)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    default = f"first-layer weights ({len(shown)} of {len(w)} neurons)"
    return _finish(fig, path, title or default)


def plot_filters(conv_layer_or_weight, max_filters: int = 64, path=None,
                 title: str | None = None):
    """The kernels of a convolution layer as small images, one per (filter, input
    channel): a row per filter when there are several input channels.

    ``conv_layer_or_weight`` is a ``Conv2d``, a model (its first ``Conv2d``), or a
    weight array of shape (out_channels, in_channels, kH, kW).

    >>> from nabla.nn.layers.conv import Conv2d  # also nabla.nn.Conv2d
    >>> conv = Conv2d(1, 6, 5)
    >>> fig = plot_filters(conv)
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape
    (6, (5, 5))
    """
    from ..nn.module import Module

    if isinstance(conv_layer_or_weight, Module):
        layer = conv_layer_or_weight
        w = getattr(layer, "weight", None)
        if w is None or w.ndim != 4:
            layer = _first(conv_layer_or_weight, "conv")
        conv_layer_or_weight = layer.weight
    w = np.asarray(_np(conv_layer_or_weight), dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"conv filters have shape (out_channels, in_channels, kH, kW); got "
                         f"{w.shape}")
    w = w[:max(int(max_filters), 1)]
    out_c, in_c = w.shape[:2]
    shown_c = min(in_c, 8)
    rows, cols = _grid(out_c) if in_c == 1 else (out_c, shown_c)
    fig = _figure(1.4 * cols + 0.4, 1.5 * rows + 0.4, layout="constrained")
    m = float(np.abs(w).max()) or 1.0  # one scale for all: filters compare directly
    for o in range(out_c):
        for c in range(shown_c):
            i = o if in_c == 1 else o * shown_c + c
            ax = fig.add_subplot(rows, cols, i + 1)
            ax.imshow(w[o, c], cmap="RdBu_r", vmin=-m, vmax=m)
            ax.set_title(f"filter {o}" + (f" ch {c}" if in_c > 1 else ""), fontsize=8)
            ax.axis("off")
    default = (f"{out_c} filters of {w.shape[2]}x{w.shape[3]}"
               + (f" over {in_c} channels" if in_c > 1 else ""))
    return _finish(fig, path, title or default)


def _stages(model_or_layers, x):
    """Run ``x`` through the layers and list ``(name, module, output)`` for each leaf
    layer in the order it ran."""
    from ..autograd import no_grad
    from ..nn import ReLU
    from ..nn.layers.conv import Conv2d
    from ..nn.layers.pooling import MaxPool2d
    from ..nn.module import Module

    if isinstance(model_or_layers, Conv2d):
        # One conv layer: show the classic trio, convolution -> ReLU -> 2x2 max pool.
        model_or_layers = [model_or_layers, ReLU(), MaxPool2d(2)]
    if isinstance(model_or_layers, (list, tuple)):
        stages = []
        with no_grad():
            for i, layer in enumerate(model_or_layers):
                x = layer(x)
                stages.append((f"{i}", layer, x))
        return stages
    if not isinstance(model_or_layers, Module):
        raise TypeError(f"plot_feature_maps takes a Conv2d, a model or a list of layers, "
                        f"got {type(model_or_layers).__name__}")
    from .graph import _leaf_modules

    model = model_or_layers
    stages = []
    leaves = _leaf_modules(model)
    for name, m in leaves:
        original = m.forward

        def wrapper(*args, _m=m, _name=name, _original=original, **kwargs):
            out = _original(*args, **kwargs)
            stages.append((_name, _m, out))
            return out

        m.__dict__["forward"] = wrapper  # Module has no hooks: wrap for one call
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(x)
    finally:
        model.train(was_training)
        for _, m in leaves:
            m.__dict__.pop("forward", None)
    return stages


def plot_feature_maps(model_or_layers, image, layers=None, max_maps: int | None = None,
                      path=None, title: str | None = None, label=None):
    """What a convolutional network sees: the input (with its ``label``, when given),
    then the feature maps after each layer (convolution, activation, pooling ...), one
    row per stage, a column per channel: every channel, or the first ``max_maps``, the
    row's label then saying how many are shown. The maps of a row share one colour
    scale, shown by the row's colour bar, so their strengths compare.

    Args:
        model_or_layers: a ``Conv2d`` (then the maps are shown after it, after a ReLU
            and after 2x2 max pooling), a list of layers applied in turn, or a model
            (every layer whose output is still an image, in the order they ran).
        image: one image, (H, W), (C, H, W) or (1, C, H, W), scaled as the model's
            training inputs were.
        layers: which stages to show: layer names (as in ``named_modules``) or
            positions among the image-shaped stages (default: all of them).
        title: the figure's title (default: "feature maps of <model> ...").

    >>> import numpy as np
    >>> from nabla.nn.layers.conv import Conv2d
    >>> conv = Conv2d(1, 4, 3, padding=1)
    >>> img = np.random.default_rng(0).random((8, 8))
    >>> fig = plot_feature_maps(conv, img, label="7")
    >>> [ax.get_ylabel().split("\\n")[0] for ax in fig.axes if ax.get_ylabel()]
    ['input', '0: Conv2d', '1: ReLU', '2: MaxPool2d']
    >>> fig.axes[0].get_title()
    'label: 7'
    >>> [ax for ax in fig.axes if ax.images][-1].images[0].get_array().shape  # pooled: 4x4
    (4, 4)
    """
    from ..creation import from_numpy

    img = np.asarray(_np(image), dtype=np.float32)
    if img.ndim == 2:
        img = img[None, None]
    elif img.ndim == 3:
        img = img[None]
    if img.ndim != 4 or img.shape[0] != 1:
        raise ValueError(f"image must be (H, W), (C, H, W) or (1, C, H, W); got "
                         f"{np.shape(_np(image))}")
    stages = [(n, m, _np(out)) for n, m, out in _stages(model_or_layers, from_numpy(img))]
    maps = [(n, m, out) for n, m, out in stages if np.ndim(out) == 4]
    if layers is not None:
        wanted = []
        for key in layers:
            if isinstance(key, int) and not isinstance(key, bool):
                wanted.append(maps[key])
            else:
                found = [s for s in maps if s[0] == str(key)]
                if not found:
                    raise ValueError(f"no image-shaped stage named {key!r}; there are "
                                     f"{[s[0] for s in maps]}")
                wanted += found
        maps = wanted
    rows = [("input", None, img)] + maps
    widest = max(out.shape[1] for _, _, out in rows)
    cols = max(1, widest if max_maps is None else min(int(max_maps), widest))
    # A row of axes plus one narrow column for the row's colour bar.
    fig = _figure(1.3 * cols + 1.8, 1.5 * len(rows) + 0.6, layout="constrained")
    grid = fig.add_gridspec(len(rows), cols + 1, width_ratios=[1] * cols + [0.08])
    cut = 0
    for r, (name, module, out) in enumerate(rows):
        n = min(cols, out.shape[1])
        cut = max(cut, out.shape[1] - n)
        shown = out[0, :n]
        lo, hi = float(shown.min()), float(shown.max())
        for c in range(n):
            ax = fig.add_subplot(grid[r, c])
            im = ax.imshow(shown[c], cmap="gray" if r == 0 else "viridis", vmin=lo, vmax=hi)
            _bare(ax)
            if r:
                ax.set_title(f"ch {c}", fontsize=7)
            elif c == 0 and label is not None:
                ax.set_title(f"label: {label}", fontsize=8)
            if c == 0:
                kind = type(module).__name__ if module is not None else ""
                shape = "x".join(map(str, out.shape[1:]))
                more = f"\n{n} of {out.shape[1]} channels" if n < out.shape[1] else ""
                ax.set_ylabel((f"{name}: {kind}\n{shape}" if kind else f"{name}\n{shape}")
                              + more, fontsize=8)
        fig.colorbar(im, cax=fig.add_subplot(grid[r, cols]))
    if title is None:
        what = type(model_or_layers).__name__ if not isinstance(model_or_layers, (list, tuple)) \
            else "the layers"
        shown = "every channel" if not cut else f"at most {cols} channels a stage"
        title = f"feature maps of {what} for one input ({shown})"
    return _finish(fig, path, title)
