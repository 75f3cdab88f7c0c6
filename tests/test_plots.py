"""nabla.viz plots: each figure's data checked against what it should show (curves,
images, titles, panels), files written atomically, bad input refused clearly."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest

import nabla
from nabla import nn, viz
from nabla.nn.layers.conv import Conv2d
from nabla.nn.layers.pooling import MaxPool2d
from nabla.optim import SGD
from nabla.optim.lr_scheduler import ExponentialLR, ReduceLROnPlateau, StepLR
from nabla.optim.minimize import minimize
from nabla.train import History


@pytest.fixture(autouse=True)
def _leave_the_global_rng_alone():
    # These tests seed and draw (layers initialise randomly): later test files must
    # see the random stream they would have seen without them.
    state = nabla.random.get_rng_state()
    yield
    nabla.random.set_rng_state(state)


def png_written(path) -> bool:
    with open(path, "rb") as f:
        head = f.read(8)
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n != os.path.basename(path)]
    return head == b"\x89PNG\r\n\x1a\n" and not leftovers  # no temporary file left behind


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


# -------------------------------------------------------------------- activations

def test_activation_curves_and_derivatives(tmp_path):
    fig = viz.plot_activations(points=201, path=tmp_path / "act.png")
    assert png_written(tmp_path / "act.png")
    assert [ax.get_title() for ax in fig.axes] == ["step", "sigmoid", "tanh", "relu",
                                                  "softplus"]
    x = fig.axes[0].lines[0].get_xdata()
    np.testing.assert_allclose(x, np.linspace(-5, 5, 201))
    expected = {
        "step": ((x > 0).astype(float), np.zeros_like(x)),
        "sigmoid": (1 / (1 + np.exp(-x)), np.exp(-x) / (1 + np.exp(-x)) ** 2),
        "tanh": (np.tanh(x), 1 - np.tanh(x) ** 2),
        "relu": (np.maximum(x, 0), (x > 0).astype(float)),
        "softplus": (np.log1p(np.exp(x)), 1 / (1 + np.exp(-x))),
    }
    for ax in fig.axes:
        f, df = expected[ax.get_title()]
        np.testing.assert_allclose(ax.lines[0].get_ydata(), f, atol=1e-12)
        np.testing.assert_allclose(ax.lines[1].get_ydata(), df, atol=1e-12)
        assert ax.lines[1].get_linestyle() == "--"


def test_activation_choice_and_unknown_name():
    fig = viz.plot_activations(["gelu", "silu", "leaky_relu"], x_range=(-1, 1), points=3)
    assert len(fig.axes) == 3
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), [-0.1, 0.0, 1.0])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        viz.plot_activations(["sigmoid", "swish"])


# ------------------------------------------------------------------------ history

def test_history_curves_train_val_metrics_and_lr(tmp_path):
    h = History({"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8],
                 "val_loss": [1.1, 0.8, 0.7], "val_accuracy": [0.4, 0.6, 0.75],
                 "lr": [0.1, 0.05, 0.025]})
    fig = viz.plot_history(h, path=tmp_path / "h.png", title="run")
    assert png_written(tmp_path / "h.png")
    loss_ax, metric_ax, lr_ax = fig.axes
    assert [ln.get_label() for ln in loss_ax.lines] == ["loss", "val_loss"]
    assert list(loss_ax.lines[1].get_ydata()) == [1.1, 0.8, 0.7]
    assert list(metric_ax.lines[0].get_xdata()) == [1, 2, 3]
    assert [ln.get_label() for ln in metric_ax.lines] == ["accuracy", "val_accuracy"]
    assert list(lr_ax.lines[0].get_ydata()) == [0.1, 0.05, 0.025]
    assert fig._suptitle.get_text() == "run"
    # a constant learning rate is not worth a panel
    assert len(viz.plot_history({"loss": [1.0, 0.5], "lr": [0.1, 0.1]}).axes) == 1


# ---------------------------------------------------------------- lr schedules

def test_lr_schedule_from_a_scheduler_leaves_it_as_it_was():
    opt = SGD([nabla.zeros(1, requires_grad=True)], lr=1.0)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    sched.step()
    fig = viz.plot_lr_schedule(sched, steps=6)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(),
                               [1.0, 1.0, 0.1, 0.1, 0.1, 0.01])
    assert sched.last_epoch == 1 and opt.param_groups[0]["lr"] == 1.0
    assert fig.axes[0].get_title() == "StepLR"
    sched.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # it continues untouched


def test_lr_schedule_from_lists_functions_and_groups():
    fig = viz.plot_lr_schedule(lambda k: 0.5 ** k, steps=4)
    assert list(fig.axes[0].lines[0].get_ydata()) == [1.0, 0.5, 0.25, 0.125]
    fig = viz.plot_lr_schedule([0.3, 0.2, 0.1])
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.3, 0.2, 0.1]
    a, b = nabla.zeros(1, requires_grad=True), nabla.zeros(1, requires_grad=True)
    opt = SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.1}])
    fig = viz.plot_lr_schedule(ExponentialLR(opt, gamma=0.5), steps=3)
    assert len(fig.axes[0].lines) == 2
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [0.1, 0.05, 0.025])


def test_lr_schedule_bad_input():
    opt = SGD([nabla.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(TypeError, match="history's 'lr'"):
        viz.plot_lr_schedule(ReduceLROnPlateau(opt), steps=5)
    with pytest.raises(ValueError, match="steps"):
        viz.plot_lr_schedule(StepLR(opt, step_size=1), steps=None)
    with pytest.raises(ValueError, match="no learning rates"):
        viz.plot_lr_schedule([])


# ----------------------------------------------------------------- cost surface

def cost(w, b):
    return (w - 1) ** 2 + 3 * (b + 1) ** 2


def test_cost_surface_draws_the_descent_path(tmp_path):
    r = minimize(cost, [3.0, 1.0], lr=0.1)
    fig = viz.plot_cost_surface(cost, r, resolution=15, labels=("w", "b"),
                                path=tmp_path / "c.png")
    assert png_written(tmp_path / "c.png")
    ax = fig.axes[0]
    path_line, start, end = ax.lines[:3]
    np.testing.assert_array_equal(path_line.get_xdata(), r.path[:, 0])
    np.testing.assert_array_equal(path_line.get_ydata(), r.path[:, 1])
    assert list(start.get_xdata()) == [3.0] and end.get_xdata()[0] == r.path[-1, 0]
    assert ax.get_xlabel() == "w" and ax.get_ylabel() == "b"
    # the default frame holds the whole path
    lo, hi = ax.get_xlim()
    assert lo < r.path[:, 0].min() and hi > r.path[:, 0].max()
    # the contour levels span the cost over the frame
    levels = ax.collections[0].levels if hasattr(ax.collections[0], "levels") else None
    assert levels is not None and levels[0] <= 0.05 and levels[-1] >= cost(3.0, 1.0)


def test_cost_surface_grid_and_vectorized_agree():
    kw = dict(xlim=(-1, 2), ylim=(-2, 1), resolution=9, levels=10)
    a = viz.plot_cost_surface(cost, **kw)
    b = viz.plot_cost_surface(cost, vectorized=True, **kw)
    np.testing.assert_allclose(a.axes[0].collections[0].levels,
                               b.axes[0].collections[0].levels)
    assert not a.axes[0].lines  # no trajectory given: no path drawn
    logs = viz.plot_cost_surface(cost, log=True, **kw).axes[0].collections[0].levels
    assert np.allclose(np.diff(np.log(logs)), np.log(logs[1] / logs[0]))  # geometric


def test_cost_surface_bad_input():
    with pytest.raises(ValueError, match="xlim and ylim"):
        viz.plot_cost_surface(cost)
    one = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1)
    with pytest.raises(ValueError, match="two parameters"):
        viz.plot_cost_surface(cost, one)
    with pytest.raises(ValueError, match="vectorized f returned shape"):
        viz.plot_cost_surface(lambda w, b: (w + b).sum(), xlim=(0, 1), ylim=(0, 1),
                              resolution=4, vectorized=True)


# ------------------------------------------------------------ decision boundary

def line_classifier(outputs=2):
    """x1 > 0 -> class 1: scores (-x1, x1), or one logit x1."""
    layer = nn.Linear(2, outputs)
    w = [[-1.0, 0.0], [1.0, 0.0]] if outputs == 2 else [[1.0, 0.0]]
    with nabla.no_grad():
        layer.weight.copy_(nabla.tensor(w))
        layer.bias.zero_()
    return layer


def test_decision_boundary_shows_the_data_and_the_regions(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 2))
    y = (X[:, 0] > 0).astype(int)
    fig = viz.plot_decision_boundary(line_classifier(), X, y, resolution=40,
                                     class_names=["left", "right"], path=tmp_path / "d.png")
    assert png_written(tmp_path / "d.png")
    ax = fig.axes[0]
    points = [c for c in ax.collections if c.get_label() in ("left", "right")]
    assert [c.get_label() for c in points] == ["left", "right"]
    np.testing.assert_allclose(points[0].get_offsets(), X[y == 0])
    np.testing.assert_allclose(points[1].get_offsets(), X[y == 1])
    assert ax.get_title() == "decision boundary (accuracy 1.000)"
    flipped = viz.plot_decision_boundary(line_classifier(), X, 1 - y, resolution=10)
    assert flipped.axes[0].get_title() == "decision boundary (accuracy 0.000)"


def test_decision_boundary_one_output_threshold_and_scalar_nets():
    X = np.array([[-1.0, 0.5], [-0.2, 0.0], [0.3, 0.1], [1.0, -0.5]])
    y = np.array([0, 0, 1, 1])
    logit = line_classifier(outputs=1)
    fig = viz.plot_decision_boundary(logit, X, y, resolution=10)  # threshold 0 for logits
    assert fig.axes[0].get_title().endswith("(accuracy 1.000)")
    prob = nn.Sequential(logit, nn.Sigmoid())  # outputs in [0, 1]: threshold 0.5
    assert viz.plot_decision_boundary(prob, X, y, resolution=10).axes[0].get_title() \
        .endswith("(accuracy 1.000)")
    from nabla.scalar.nn import MLP

    net = MLP(2, [4, 1], rng=random.Random(0))
    fig = viz.plot_decision_boundary(net, X, y, resolution=6)
    assert len([c for c in fig.axes[0].collections if c.get_label() in ("0", "1")]) == 2


def test_decision_boundary_bad_input():
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        viz.plot_decision_boundary(line_classifier(), np.zeros((3, 3)), [0, 1, 0])
    with pytest.raises(ValueError, match="3 points but 2 labels"):
        viz.plot_decision_boundary(line_classifier(), np.zeros((3, 2)), [0, 1])


# ------------------------------------------------------------- confusion matrix

def test_confusion_matrix_cells_and_normalisation(tmp_path):
    cm = np.array([[5, 1], [2, 4]])
    fig = viz.plot_confusion_matrix(cm, ["cat", "dog"], path=tmp_path / "cm.png")
    assert png_written(tmp_path / "cm.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["5", "1", "2", "4"]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    fig = viz.plot_confusion_matrix(cm, normalize=True)
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.83", "0.17", "0.33", "0.67"]
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.zeros((2, 3)))


# ------------------------------------------------------------------ misclassified

def test_misclassified_grid_titles_and_images(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.random((30, 1, 8, 8))
    y_true = np.arange(30) % 10
    y_pred = y_true.copy()
    wrong = [2, 5, 11, 17, 29]
    y_pred[wrong] = (y_true[wrong] + 3) % 10
    fig = viz.plot_misclassified(images, y_true, y_pred, class_names=[f"c{i}" for i in
                                                                      range(10)],
                                 path=tmp_path / "m.png")
    assert png_written(tmp_path / "m.png")
    axes = image_axes(fig)
    assert len(axes) == 5
    for ax, i in zip(axes, wrong):
        assert ax.get_title() == f"true c{y_true[i]}\npred c{y_pred[i]}"
        np.testing.assert_array_equal(ax.images[0].get_array(), images[i, 0])
    assert fig._suptitle.get_text() == "5 of 30 misclassified"
    few = viz.plot_misclassified(images, y_true, y_pred, n=2)
    assert len(image_axes(few)) == 2 and few._suptitle.get_text().endswith("(first 2 shown)")
    assert image_axes(few)[0].get_title() == f"true {y_true[2]}\npred {y_pred[2]}"


def test_misclassified_flat_images_none_wrong_and_bad_input():
    flat = np.arange(2 * 16.0).reshape(2, 16)
    fig = viz.plot_misclassified(flat, [0, 1], [1, 1])
    np.testing.assert_array_equal(image_axes(fig)[0].images[0].get_array(),
                                  flat[0].reshape(4, 4))
    fig = viz.plot_misclassified(np.zeros((2, 6)), [0, 1], [1, 0], image_shape=(2, 3))
    assert image_axes(fig)[0].images[0].get_array().shape == (2, 3)
    fig = viz.plot_misclassified(flat, [0, 1], [0, 1])
    assert not image_axes(fig) and fig.axes[0].texts[0].get_text() == "no misclassified images"
    with pytest.raises(ValueError, match="must match"):
        viz.plot_misclassified(flat, [0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="image_shape"):
        viz.plot_misclassified(np.zeros((2, 10)), [0, 1], [1, 0])


# --------------------------------------------------------------- first-layer weights

def test_first_layer_weights_from_a_model_and_a_matrix(tmp_path):
    nabla.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    fig = viz.plot_first_layer_weights(model, path=tmp_path / "w.png")
    assert png_written(tmp_path / "w.png")
    w = model[1].weight.detach().numpy()
    axes = image_axes(fig)
    assert len(axes) == 12
    for i, ax in enumerate(axes):
        np.testing.assert_allclose(ax.images[0].get_array(), w[i].reshape(8, 8))
        assert ax.get_title() == f"neuron {i}"
        # One colour scale for all neurons, symmetric about zero, with a colour bar.
        assert ax.images[0].get_clim() == pytest.approx((-np.abs(w).max(), np.abs(w).max()))
    (bar,) = [ax for ax in fig.axes if not ax.images]
    assert bar.get_ylabel() == "weight" and bar.get_ylim() == pytest.approx(
        (-np.abs(w).max(), np.abs(w).max()))
    fig = viz.plot_first_layer_weights(np.ones((100, 28 * 28)), n=9)
    assert len(image_axes(fig)) == 9 and image_axes(fig)[0].images[0].get_array().shape == \
        (28, 28)
    fig = viz.plot_first_layer_weights(nn.Linear(6, 2), image_shape=(2, 3))
    assert len(image_axes(fig)) == 2


def test_first_layer_weights_bad_input():
    with pytest.raises(ValueError, match="image_shape"):
        viz.plot_first_layer_weights(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="does not hold 10 inputs"):
        viz.plot_first_layer_weights(np.zeros((3, 10)), image_shape=(3, 3))
    with pytest.raises(ValueError, match="matrix"):
        viz.plot_first_layer_weights(np.zeros((3, 1, 4, 4)))
    with pytest.raises(ValueError, match="no Linear layer"):
        viz.plot_first_layer_weights(nn.Sequential(nn.ReLU()))


# ------------------------------------------------------------- filters, feature maps

def test_filters_one_input_channel_and_several():
    nabla.manual_seed(0)
    conv = Conv2d(1, 6, 5)
    fig = viz.plot_filters(conv)
    w = conv.weight.detach().numpy()
    assert len(image_axes(fig)) == 6
    for o, ax in enumerate(image_axes(fig)):
        np.testing.assert_allclose(ax.images[0].get_array(), w[o, 0])
        assert ax.get_title() == f"filter {o}"
    w2 = np.arange(3 * 2 * 3 * 3.0).reshape(3, 2, 3, 3)
    fig = viz.plot_filters(w2)
    axes = image_axes(fig)
    assert len(axes) == 6 and axes[3].get_title() == "filter 1 ch 1"
    np.testing.assert_array_equal(axes[3].images[0].get_array(), w2[1, 1])
    assert fig._suptitle.get_text() == "3 filters of 3x3 over 2 channels"
    model = nn.Sequential(Conv2d(1, 2, 3), nn.ReLU())
    assert len(image_axes(viz.plot_filters(model))) == 2
    with pytest.raises(ValueError, match="out_channels, in_channels"):
        viz.plot_filters(np.zeros((2, 3, 3)))


def test_feature_maps_of_one_conv_layer_conv_relu_pool(tmp_path):
    nabla.manual_seed(0)
    conv = Conv2d(1, 3, 3, padding=1)
    img = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    fig = viz.plot_feature_maps(conv, img, path=tmp_path / "f.png")
    assert png_written(tmp_path / "f.png")
    axes = image_axes(fig)
    assert len(axes) == 1 + 3 * 3  # the input, then 3 maps after conv, ReLU and pooling
    with nabla.no_grad():
        z = conv(nabla.tensor(img[None, None])).numpy()
    relu = np.maximum(z, 0)
    pooled = relu.reshape(1, 3, 4, 2, 4, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(axes[0].images[0].get_array(), img)
    for c in range(3):
        np.testing.assert_allclose(axes[1 + c].images[0].get_array(), z[0, c], rtol=1e-6)
        np.testing.assert_allclose(axes[4 + c].images[0].get_array(), relu[0, c], rtol=1e-6)
        np.testing.assert_allclose(axes[7 + c].images[0].get_array(), pooled[0, c], rtol=1e-6)
    labels = [ax.get_ylabel() for ax in axes if ax.get_ylabel()]
    assert labels == ["input\n1x8x8", "0: Conv2d\n3x8x8", "1: ReLU\n3x8x8",
                      "2: MaxPool2d\n3x4x4"]
    # A title, a colour bar per row on the row's shared scale, every channel.
    assert fig._suptitle.get_text() == "feature maps of Conv2d for one input (every channel)"
    bars = [ax for ax in fig.axes if not ax.images]
    assert len(bars) == 4
    for row, bar in zip((axes[:1], axes[1:4], axes[4:7], axes[7:]), bars):
        values = np.concatenate([ax.images[0].get_array().ravel() for ax in row])
        assert all(ax.images[0].get_clim() == pytest.approx((values.min(), values.max()))
                   for ax in row)
        assert bar.get_ylim() == pytest.approx((values.min(), values.max()))


def test_feature_maps_show_the_label_and_say_how_many_channels(tmp_path):
    nabla.manual_seed(0)
    conv = Conv2d(1, 6, 3, padding=1)
    img = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    fig = viz.plot_feature_maps(conv, img, label="7 - seven", max_maps=4)
    assert image_axes(fig)[0].get_title() == "label: 7 - seven"
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels[1] == "0: Conv2d\n6x8x8\n4 of 6 channels"
    assert "at most 4 channels a stage" in fig._suptitle.get_text()
    fig = viz.plot_feature_maps(conv, img, title="mine")
    assert len(image_axes(fig)) == 1 + 3 * 6 and fig._suptitle.get_text() == "mine"


def test_feature_maps_of_a_model_pick_image_shaped_stages():
    nabla.manual_seed(0)
    model = nn.Sequential(Conv2d(1, 4, 3), nn.ReLU(), MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 10))
    img = np.random.default_rng(1).random((1, 8, 8))
    fig = viz.plot_feature_maps(model, img, max_maps=2)
    labels = [ax.get_ylabel().split("\n")[0] for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["input", "0: Conv2d", "1: ReLU", "2: MaxPool2d"]  # not Flatten/Linear
    assert len(image_axes(fig)) == 1 + 3 * 2  # at most 2 maps a row
    fig = viz.plot_feature_maps(model, img, layers=["2", 0])
    labels = [ax.get_ylabel().split("\n")[0] for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["input", "2: MaxPool2d", "0: Conv2d"]
    assert all("forward" not in m.__dict__ for m in model.modules()) and model.training
    layers = [Conv2d(1, 2, 3), nn.Tanh()]
    fig = viz.plot_feature_maps(layers, img[0])
    assert len(image_axes(fig)) == 1 + 2 * 2


def test_feature_maps_bad_input():
    conv = Conv2d(1, 2, 3)
    with pytest.raises(ValueError, match="image must be"):
        viz.plot_feature_maps(conv, np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="no image-shaped stage named 'fc'"):
        viz.plot_feature_maps(nn.Sequential(conv), np.zeros((8, 8)), layers=["fc"])
    with pytest.raises(TypeError, match="Conv2d, a model or a list"):
        viz.plot_feature_maps("conv", np.zeros((8, 8)))


# ------------------------------------------------------------------------- hygiene

def test_plots_leave_pyplot_alone_and_import_matplotlib_lazily():
    code = ("import sys, nabla, nabla.viz\n"
            "assert 'matplotlib' not in sys.modules\n"
            "fig = nabla.viz.plot_activations(['relu'], points=3)\n"
            "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": ""})
    assert out.stdout.strip() == "ok", out.stderr


def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    from nabla import io

    def broken(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(io, "atomic_write_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        viz.plot_activations(["relu"], points=3, path=tmp_path / "a.png")
    assert not os.listdir(tmp_path)
