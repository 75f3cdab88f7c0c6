"""Look inside a network while it learns: activation, gradient and update statistics.

``TrainingMonitor(model)`` attaches hooks, PyTorch's way: a forward hook on each layer
to catch its output, a hook on that output to catch its gradient, and a forward pre-hook
on the model that keeps a copy of the parameters so that ``step()``, called after the
optimizer's step, can see each update. Every ``every`` steps it records, per layer, the
activation mean, std and saturated fraction (tanh: |out| > 0.97; sigmoid: out within
0.03 of 0 or 1), the gradient mean and std, and for each parameter the update-to-data
ratio ``log10(std(update) / std(data))``. Around -3 (an update a thousandth of the
values) is the customary healthy level: far below, the layer barely learns; far above,
it thrashes.

>>> import nabla
>>> from nabla import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
>>> mon = TrainingMonitor(model)
>>> opt = nabla.optim.SGD(model.parameters(), lr=0.1)
>>> model(nabla.randn(16, 4)).pow(2).mean().backward(); opt.step(); mon.step()
>>> sorted(mon.history["1:Tanh"])
['act_mean', 'act_saturated', 'act_std', 'grad_mean', 'grad_std']
>>> mon.remove()
"""

from __future__ import annotations

import os

import numpy as np

from ..train.callbacks import Callback

SATURATION = 0.97
_KINDS = ("Tanh", "Sigmoid", "ReLU", "LeakyReLU", "GELU", "ELU", "Softplus", "SiLU",
          "Hardtanh", "LogSigmoid", "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d",
          "LayerNorm")


def _std(a: np.ndarray) -> float:
    """The sample std (n - 1), as ``Tensor.std()`` gives it in PyTorch and nabla."""
    return float(a.std(ddof=1)) if a.size > 1 else 0.0


def _saturated(kind: str, out: np.ndarray) -> float:
    if kind == "Tanh":
        return float(np.mean(np.abs(out) > SATURATION))
    if kind == "Sigmoid":
        return float(np.mean(np.abs(out - 0.5) > SATURATION - 0.5))
    return float("nan")  # saturation is a property of squashing activations only


class TrainingMonitor:
    """Record per-layer statistics of a model during training (see the module's text).

    Arguments:
        model: the ``nn.Module`` to watch.
        every: record every ``every``-th step (the hooks do nothing in between).
        layers: the kinds of module to watch, by class name; by default the activation
            layers (what the statistics are about), or every Linear when it has none.

    After ``step()`` calls, ``history[layer]`` maps each statistic to a list (one value
    per recorded step), ``ratios[param]`` holds the update-to-data ratios, ``steps`` the
    step numbers recorded, and ``last`` the latest recorded activations and gradients
    (for the histograms). ``remove()`` detaches every hook.
    """

    def __init__(self, model, every: int = 1, layers=None):
        if int(every) < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.model, self.every = model, int(every)
        self._count = 0  # steps seen
        self.steps: list[int] = []
        self.history: dict[str, dict[str, list[float]]] = {}
        self.ratios: dict[str, list[float]] = {}
        self.last: dict[str, dict[str, np.ndarray]] = {}
        self._before: dict[str, np.ndarray] = {}
        self._pending: dict[str, dict] = {}
        watched = _watched(model, layers)
        self.layers = [name for name, _ in watched]
        self._params = [(n, p) for n, p in model.named_parameters()
                        if p.requires_grad and p.ndim >= 2]
        self._handles = [model.register_forward_pre_hook(self._snapshot)]
        for name, module in watched:
            self._handles.append(module.register_forward_hook(self._catcher(name)))

    # ---------------------------------------------------------------------- hooks
    def _recording(self) -> bool:
        return self._count % self.every == 0

    def _snapshot(self, module, args):
        if self._recording() and module.training:
            self._before = {n: p._data.copy() for n, p in self._params}

    def _catcher(self, name):
        def catch(module, args, out):
            if not self._recording() or not module.training or not hasattr(out, "_data"):
                return None
            arr = out._data
            self._pending[name] = entry = {
                "kind": type(module).__name__, "act": arr.copy(),
                "act_mean": float(arr.mean()), "act_std": _std(arr),
                "act_saturated": _saturated(type(module).__name__, arr),
                "grad_mean": float("nan"), "grad_std": float("nan"), "grad": None,
            }
            if out.requires_grad:
                def catch_grad(g):
                    entry["grad"] = g._data.copy()
                    entry["grad_mean"], entry["grad_std"] = float(g._data.mean()), \
                        _std(g._data)

                out.register_hook(catch_grad)
            return None

        return catch

    # ----------------------------------------------------------------------- steps
    def step(self) -> None:
        """Call once per training step, after ``optimizer.step()``."""
        if self._recording() and self._pending:
            self.steps.append(self._count)
            for name, e in self._pending.items():
                h = self.history.setdefault(name, {k: [] for k in (
                    "act_mean", "act_std", "act_saturated", "grad_mean", "grad_std")})
                for k in h:
                    h[k].append(e[k])
                self.last[name] = {"kind": e["kind"], "act": e["act"], "grad": e["grad"]}
            for n, p in self._params:
                before = self._before.get(n)
                if before is None:
                    continue
                data_std = _std(p._data)
                update_std = _std(p._data - before)
                ratio = np.log10(update_std / data_std) if update_std > 0 and data_std > 0 \
                    else float("-inf")
                self.ratios.setdefault(n, []).append(float(ratio))
        self._pending, self._before = {}, {}
        self._count += 1

    def remove(self) -> None:
        """Detach every hook; the recorded statistics stay."""
        for h in self._handles:
            h.remove()
        self._handles = []

    # ----------------------------------------------------------------------- plots
    def plot_activations(self, path=None, ax=None):
        """Histograms of each watched layer's latest activations, one curve a layer.

        Draws into ``ax`` when given (for a grid of panels), else a new figure, saved to
        ``path`` when given; returns the figure.
        """
        return _histograms(self, "act", "activation distribution (latest recorded step)",
                           "activation value", path, ax, saturation=True)

    def plot_gradients(self, path=None, ax=None):
        """Histograms of the gradient reaching each watched layer's output."""
        return _histograms(self, "grad", "gradient distribution (latest recorded step)",
                           "gradient value", path, ax)

    def plot_update_ratios(self, path=None, ax=None):
        """log10(std(update) / std(data)) of each weight over the recorded steps."""
        fig, ax, own = _axes(ax)
        for name, values in self.ratios.items():
            ax.plot(self.steps[-len(values):], values, label=name)
        ax.axhline(-3, color="black", linestyle="--", linewidth=1, label="1e-3 guide")
        ax.set_xlabel("training step")
        ax.set_ylabel("log10(update std / data std)")
        ax.legend(fontsize=7, loc="best")
        return _done(fig, ax, own, path, "update-to-data ratio per weight")

    def save_plots(self, directory) -> list[str]:
        """Write activations.png, gradients.png and update_ratios.png into ``directory``."""
        os.makedirs(directory, exist_ok=True)
        paths = [os.path.join(directory, f"diagnostics_{n}.png")
                 for n in ("activations", "gradients", "update_ratios")]
        self.plot_activations(paths[0])
        self.plot_gradients(paths[1])
        self.plot_update_ratios(paths[2])
        return paths


def _watched(model, layers):
    kinds = set(layers) if layers is not None else {
        k for k in _KINDS if k not in ("Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d",
                                       "LayerNorm")}
    found = [(f"{name}:{type(m).__name__}", m) for name, m in model.named_modules()
             if name and type(m).__name__ in kinds]
    if not found and layers is None:
        found = [(f"{name}:{type(m).__name__}", m) for name, m in model.named_modules()
                 if name and type(m).__name__ == "Linear"]
    if not found:
        raise ValueError("TrainingMonitor: the model has no layers of the kinds to watch "
                         f"({sorted(kinds)}); pass layers=[...] with class names it has")
    return found


def _axes(ax):
    if ax is not None:
        return ax.figure, ax, False
    from .plots import _figure

    fig = _figure(8, 4.5)
    return fig, fig.add_subplot(1, 1, 1), True


def _done(fig, ax, own, path, title):
    from .plots import _finish

    if not own:
        ax.set_title(title, fontsize=9)
        return fig
    return _finish(fig, path, title)


def _histograms(mon, key, title, xlabel, path, ax, saturation=False):
    fig, ax, own = _axes(ax)
    legend = []
    for name, last in mon.last.items():
        values = last[key]
        if values is None:
            continue
        counts, edges = np.histogram(values, bins=60, density=True)
        ax.plot((edges[:-1] + edges[1:]) / 2, counts)
        h = mon.history[name]
        stat = f"{name}: mean {h[key + '_mean'][-1]:+.2g}, std {h[key + '_std'][-1]:.2g}"
        if saturation and not np.isnan(h["act_saturated"][-1]):
            stat += f", saturated {h['act_saturated'][-1]:.1%}"
        legend.append(stat)
    ax.legend(legend, fontsize=7, loc="best")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    return _done(fig, ax, own, path, title)


class DiagnosticsCallback(Callback):
    """A ``fit`` callback: a ``TrainingMonitor`` over the run, its plots saved at the end.

    ``directory`` receives diagnostics_activations.png, diagnostics_gradients.png and
    diagnostics_update_ratios.png; ``every`` is the monitor's. With ``log_dir``, each
    epoch's latest statistics also go to TensorBoard there (needs tensorboardX).
    """

    def __init__(self, directory, every: int = 10, log_dir=None):
        self.directory, self.every, self.log_dir = directory, int(every), log_dir
        self.monitor = self.writer = None

    def on_train_begin(self, logs=None):
        self.monitor = TrainingMonitor(self.trainer.model, every=self.every)
        if self.log_dir is not None:
            from ..utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.log_dir))

    def on_batch_end(self, step, logs=None):
        self.monitor.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.writer is None or not self.monitor.steps:
            return
        for name, h in self.monitor.history.items():
            for k, v in h.items():
                if not np.isnan(v[-1]):
                    self.writer.add_scalar(f"diagnostics/{name}/{k}", v[-1], epoch)
        for name, v in self.monitor.ratios.items():
            self.writer.add_scalar(f"diagnostics/update_ratio/{name}", v[-1], epoch)

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
        if self.monitor is not None:
            self.monitor.remove()
            if self.monitor.steps:
                self.monitor.save_plots(self.directory)
