"""The training loop: ``fit``, ``evaluate`` and ``predict``.

``fit`` runs the usual loop (forward, loss, ``zero_grad``, backward, ``step``) over a
DataLoader for a number of epochs, measures the loss and metrics, validates, steps a
learning-rate scheduler, calls callbacks, shows a progress bar, and returns a
:class:`~nabla.train.history.History`.

>>> import nabla
>>> from nabla import nn, optim
>>> from nabla.data import DataLoader, TensorDataset, datasets
>>> from nabla.train import fit, evaluate
>>> _ = nabla.manual_seed(0)
>>> X, y = datasets.blobs(200, centers=[[-2, -2], [2, 2]], std=0.5)
>>> loader = DataLoader(TensorDataset(X, y), batch_size=20, shuffle=True)
>>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
>>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
...               loader, epochs=5, verbose=0)
>>> len(history), history["accuracy"][-1]
(5, 1.0)
>>> evaluate(model, nn.CrossEntropyLoss(), loader)["accuracy"]
1.0
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence

import numpy as np

from ..autograd import no_grad
from .callbacks import Callback
from .history import History
from .metrics import get_metric


class Trainer:
    """The state of a running ``fit``, shared with the callbacks."""

    def __init__(self, model, loss_fn, optimizer, scheduler, train_data, epochs: int,
                 history: History):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_data = train_data
        self.epochs = epochs
        self.history = history
        self.epoch = 0
        self.step = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self.callbacks: list = []


def _is_pair(data) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(
        hasattr(d, "shape") for d in data)


def _as_loader(data, batch_size: int | None, shuffle: bool):
    """A DataLoader as is; an ``(X, y)`` pair of tensors/arrays batched into one."""
    if _is_pair(data):
        from ..data import DataLoader, TensorDataset

        return DataLoader(TensorDataset(*data), batch_size=batch_size or 32, shuffle=shuffle)
    if batch_size is not None:
        raise ValueError("batch_size is only used with (X, y) data; the DataLoader "
                         "already has its own")
    return data


def _xy(batch):
    try:
        x, y = batch
    except (TypeError, ValueError):
        raise TypeError("each batch must be a pair (inputs, targets), got "
                        f"{type(batch).__name__}") from None
    return x, y


def _lr(optimizer) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else None


def _fmt(logs: dict) -> str:
    return "  ".join(f"{k} {v:.4g}" if k == "lr" else f"{k} {v:.4f}" for k, v in logs.items())


def _width() -> dict:
    """tqdm's size options: follow the terminal, unless it reports a size of 0x0 (a
    pseudo-terminal that was never given one), where tqdm would draw nothing at all."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
        if size.columns > 0 and size.lines > 0:
            return {"dynamic_ncols": True}
    except (OSError, ValueError, AttributeError):
        pass
    fallback = shutil.get_terminal_size()
    return {"ncols": fallback.columns, "nrows": fallback.lines}


class _Progress:
    """A line per epoch (verbose), and while an epoch runs a tqdm bar with the running
    loss and metrics when stderr is a terminal."""

    def __init__(self, verbose: int, epochs: int):
        self.verbose = verbose
        self.epochs = epochs
        self.bar = None
        self.use_bar = verbose == 1 and sys.stderr.isatty()

    def begin(self, epoch: int, total: int | None) -> None:
        self.t0 = time.perf_counter()
        if self.use_bar:
            from tqdm.auto import tqdm  # imported lazily: importing nabla stays fast

            self.bar = tqdm(total=total, desc=f"epoch {epoch}/{self.epochs}", unit="batch",
                            leave=False, file=sys.stderr, **_width())

    def batch(self, n: int, running: dict | None) -> None:
        if self.bar is not None:
            if running is not None:
                self.bar.set_postfix(running, refresh=False)
            self.bar.update(n)

    def end(self, epoch: int, logs: dict) -> None:
        # The bar goes away and the epoch's summary stays: a bar is too narrow for
        # every value, and the terminal then shows what a log file would.
        self.close()
        if self.verbose:
            print(f"epoch {epoch}/{self.epochs}  {_fmt(logs)}  "
                  f"({time.perf_counter() - self.t0:.2f}s)", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def fit(model, loss_fn, optimizer, train_data, epochs: int, val_data=None, scheduler=None,
        callbacks: Sequence[Callback] = (), metrics: Sequence = ("accuracy",),
        verbose: int = 1, *, batch_size: int | None = None, shuffle: bool = True,
        initial_epoch: int = 0, initial_step: int | None = None,
        history: History | None = None, callback_states: list | None = None,
        terminate_on_nan: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs and return the :class:`History`.

    ``train_data`` and ``val_data`` are DataLoaders (or any iterables of ``(x, y)``
    batches), or ``(X, y)`` pairs of tensors batched with ``batch_size`` (shuffled for
    training when ``shuffle``). ``loss_fn(output, target)`` returns a scalar tensor
    averaged over the batch. ``metrics`` are names (``"accuracy"``,
    ``"top5_accuracy"``), :class:`~nabla.train.metrics.Metric` objects or functions
    ``(output, target) -> float``; they are measured on the training batches as they
    go and on ``val_data`` after each epoch (as ``val_<name>``). The history also holds
    the learning rate (``lr``) each epoch trained with.

    ``scheduler`` is stepped once per epoch (``ReduceLROnPlateau`` gets ``val_loss``,
    or ``loss`` without validation data). ``verbose=1`` prints one line per epoch and,
    when stderr is a terminal, shows a tqdm bar with the running loss and metrics while
    the epoch runs; ``2`` prints the lines only; ``0`` is silent. A callback that stops
    training has its reason printed (when verbose) and kept in ``history.stop_reason``.

    A loss that is NaN or infinite stops training before that batch's step (with
    ``terminate_on_nan``, the default): ``history.stop_reason`` says which epoch and
    batch, the last finite loss and that the learning rate is the usual suspect.

    To resume, restore the objects with ``nabla.io.load_checkpoint`` and pass
    ``initial_epoch`` (epochs already done), ``initial_step``, the saved ``history``
    and ``callback_states`` (its ``info["callbacks"]``: EarlyStopping's patience,
    ModelCheckpoint's best, ...): the run then continues exactly as if it had never
    stopped.
    """
    loader = _as_loader(train_data, batch_size, shuffle)
    val_loader = None if val_data is None else _as_loader(val_data, batch_size, False)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not 0 <= initial_epoch <= epochs:
        raise ValueError(f"initial_epoch must lie in [0, epochs={epochs}], got {initial_epoch}")
    history = history if history is not None else History()
    trainer = Trainer(model, loss_fn, optimizer, scheduler, loader, epochs, history)
    n_batches = len(loader) if hasattr(loader, "__len__") else None
    trainer.step = initial_step if initial_step is not None else initial_epoch * (n_batches or 0)
    callbacks = list(callbacks)
    trainer.callbacks = callbacks
    for cb in callbacks:
        cb.set_trainer(trainer)

    # Only callbacks that override on_batch_end are called per batch: the hot loop
    # pays nothing for the others.
    batch_callbacks = [cb for cb in callbacks
                       if type(cb).on_batch_end is not Callback.on_batch_end]
    progress = _Progress(verbose, epochs)
    # A postfix update formats strings: do it ~50 times an epoch, not every batch.
    postfix_every = max(1, (n_batches or 50) // 50)
    plateau = _is_plateau(scheduler)

    # With terminate_on_nan the one line on a non-finite loss says it all: NumPy's
    # overflow warnings on the way there would only bury it.
    quiet_fp = np.errstate(over="ignore", invalid="ignore", divide="ignore") \
        if terminate_on_nan else contextlib.nullcontext()
    for cb in callbacks:
        cb.on_train_begin({})
    if callback_states is not None:
        from ..io.checkpoint import match_callback_states

        for cb, state in match_callback_states(callbacks, callback_states):
            cb.load_state_dict(state)
    last_finite = None  # (loss, epoch, batch) of the last finite loss, for the NaN message
    try:
        quiet_fp.__enter__()
        for epoch in range(initial_epoch + 1, epochs + 1):
            trainer.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            if trainer.stop_training:  # e.g. resumed from a run that had stopped
                break
            lr = _lr(optimizer)
            train_metrics = [get_metric(m) for m in metrics]
            model.train()
            progress.begin(epoch, n_batches)
            loss_sum, seen, batch_i = 0.0, 0, 0
            step = trainer.step
            for batch in loader:
                x, y = _xy(batch)
                output = model(x)
                loss = loss_fn(output, y)
                loss_value = loss.item()
                if terminate_on_nan:
                    if not math.isfinite(loss_value):
                        trainer.step = step
                        _stop_on_nan(trainer, loss_value, epoch, batch_i + 1, last_finite,
                                     optimizer)
                        break
                    last_finite = (loss_value, epoch, batch_i + 1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                n = len(y)
                loss_sum += loss_value * n
                seen += n
                batch_i += 1
                step += 1
                out_data, y_data = output._data, getattr(y, "_data", y)
                for m in train_metrics:
                    m.update(out_data, y_data)
                if batch_callbacks:
                    trainer.step = step
                    logs = {"loss": loss_value, "epoch": epoch, "batch": batch_i, "size": n}
                    for cb in batch_callbacks:
                        cb.on_batch_end(step, logs)
                    if trainer.stop_training:
                        break
                if progress.bar is not None:
                    running = None
                    if batch_i % postfix_every == 0:
                        running = {"loss": f"{loss_sum / seen:.4f}"}
                        running.update((m.name, f"{m.compute():.4f}") for m in train_metrics)
                    progress.batch(1, running)
            trainer.step = step
            logs = {"loss": loss_sum / seen if seen else math.nan}
            logs.update((m.name, m.compute()) for m in train_metrics)
            stopped_mid_epoch = trainer.stop_training
            if val_loader is not None and not stopped_mid_epoch:
                val = evaluate(model, loss_fn, val_loader, metrics)
                logs.update(("val_" + k, v) for k, v in val.items())
            if lr is not None:
                logs["lr"] = lr
            history.append(epoch, logs)
            progress.end(epoch, logs)
            # The scheduler steps before the callbacks see the epoch, so a checkpoint
            # written at the epoch's end holds the learning rate of the next epoch.
            if scheduler is not None and not stopped_mid_epoch:
                if plateau:
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    scheduler.step()
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if trainer.stop_training:
                break
    finally:
        quiet_fp.__exit__(None, None, None)
        progress.close()
    for cb in callbacks:
        cb.on_train_end({})
    history.stop_reason = trainer.stop_reason
    if trainer.stop_reason and verbose:
        print(trainer.stop_reason, file=sys.stderr, flush=True)
    return history


def _stop_on_nan(trainer, loss: float, epoch: int, batch: int, last_finite, optimizer):
    lr = _lr(optimizer)
    last = ("no finite loss before it" if last_finite is None else
            f"the last finite loss was {last_finite[0]:.6g} (epoch {last_finite[1]}, "
            f"batch {last_finite[2]})")
    trainer.stop_training = True
    trainer.stop_reason = (
        f"TerminateOnNaN: the loss is {loss} at epoch {epoch}, batch {batch} (step "
        f"{trainer.step + 1}); {last}; training stopped before that step: the learning "
        f"rate{'' if lr is None else f' ({lr:g})'} is probably too high")


def _is_plateau(scheduler) -> bool:
    if scheduler is None:
        return False
    from ..optim.lr_scheduler import ReduceLROnPlateau

    return isinstance(scheduler, ReduceLROnPlateau)


class _EvalMode:
    """``model.eval()`` and ``no_grad()`` for the duration, then the previous mode."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = getattr(self.model, "training", None)
        if self.was_training is not None:
            self.model.eval()
        self.no_grad = no_grad()
        self.no_grad.__enter__()
        return self

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        if self.was_training is not None:
            self.model.train(self.was_training)


def evaluate(model, loss_fn, data, metrics: Sequence = ("accuracy",), *,
             batch_size: int | None = None) -> dict:
    """The mean loss and the metrics of ``model`` over ``data``, without gradients
    and in eval mode (the model's mode is restored afterwards).

    ``data`` is a DataLoader or an ``(X, y)`` pair; ``loss_fn`` may be None to measure
    the metrics only. Returns ``{"loss": ..., "accuracy": ..., ...}``.
    """
    loader = _as_loader(data, batch_size, False)
    ms = [get_metric(m) for m in metrics]
    loss_sum, seen = 0.0, 0
    with _EvalMode(model):
        for batch in loader:
            x, y = _xy(batch)
            output = model(x)
            n = len(y)
            if loss_fn is not None:
                loss_sum += loss_fn(output, y).item() * n
            seen += n
            out_data, y_data = output._data, getattr(y, "_data", y)
            for m in ms:
                m.update(out_data, y_data)
    results = {}
    if loss_fn is not None:
        results["loss"] = loss_sum / seen if seen else math.nan
    results.update((m.name, m.compute()) for m in ms)
    return results


def predict(model, data, *, batch_size: int | None = None, classes: bool = False):
    """The model's outputs for every sample of ``data``, concatenated in order.

    ``data`` is a Tensor or NumPy array of inputs (batched with ``batch_size``,
    default 256), a DataLoader, or any iterable of batches (a batch that is an
    ``(x, y)`` pair contributes ``x``). With ``classes=True`` returns the predicted
    class indices (the arg-max of each row) instead.

    >>> import nabla
    >>> from nabla import nn
    >>> model = nn.Linear(3, 2)
    >>> predict(model, nabla.ones(10, 3), batch_size=4).shape
    (10, 2)
    """
    from ..creation import from_numpy
    from ..tensor import Tensor
    from .metrics import to_labels

    if isinstance(data, (Tensor, np.ndarray)):
        arr = data._data if isinstance(data, Tensor) else data
        step = batch_size or 256
        batches: Iterable = (from_numpy(arr[i:i + step]) for i in range(0, len(arr), step))
    elif _is_pair(data):
        return predict(model, data[0], batch_size=batch_size, classes=classes)
    else:
        batches = data
    outputs = []
    with _EvalMode(model):
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            outputs.append(model(x)._data)
    if not outputs:
        raise ValueError("predict got no data")
    out = np.concatenate(outputs)
    return from_numpy(to_labels(out) if classes else out)
