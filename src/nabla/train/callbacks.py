"""Callbacks: code that ``fit`` runs at fixed points of training.

Subclass :class:`Callback` and override any of ``on_train_begin``, ``on_epoch_begin``,
``on_batch_end``, ``on_epoch_end`` and ``on_train_end``. During ``fit`` a callback's
``trainer`` attribute is the loop's state: ``trainer.model``, ``.optimizer``,
``.scheduler``, ``.history``, ``.epoch``, ``.step`` (optimizer steps so far), and
``.stop_training``, which a callback sets to end training (with a ``.stop_reason``).
Epochs are numbered from 1.

>>> class CountBatches(Callback):
...     def on_train_begin(self, logs=None):
...         self.n = 0
...     def on_batch_end(self, step, logs=None):
...         self.n += 1
>>> cb = CountBatches()
>>> cb.on_train_begin(); cb.on_batch_end(1, {"loss": 0.5}); cb.n
1
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from .history import _is_max_metric


class Callback:
    """Base class: every hook does nothing. ``fit`` skips ``on_batch_end`` for
    callbacks that do not override it, so a callback costs nothing per batch unless it
    asks to see batches."""

    trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return self.trainer.model if self.trainer is not None else None

    def on_train_begin(self, logs: dict | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_batch_end(self, step: int, logs: dict | None = None) -> None:
        """``step`` counts optimizer steps from 1; ``logs`` holds the batch's ``loss``,
        ``epoch``, ``batch`` (index within the epoch, from 1) and ``size``."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """``logs`` holds the epoch's values: ``loss``, metrics, ``val_*``, ``lr``."""

    def on_train_end(self, logs: dict | None = None) -> None:
        pass

    def state_dict(self) -> dict:
        """What the callback has learned during training (plain data and arrays), kept
        in training checkpoints so that a resumed run continues exactly."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (called by ``fit`` after ``on_train_begin``)."""


def _stop(trainer, reason: str) -> None:
    trainer.stop_training = True
    trainer.stop_reason = reason


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        hint = " (pass val_data to fit, or monitor 'loss')" if monitor.startswith("val_") else ""
        raise ValueError(f"{who} monitors {monitor!r}, but the epoch logs only hold "
                         f"{sorted(logs)}{hint}")
    return float(logs[monitor])


class _Improvement:
    """Tracks the best value of a monitored quantity, in the direction of ``mode``."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.maximize = _is_max_metric(monitor) if mode == "auto" else mode == "max"
        self.min_delta = abs(float(min_delta))
        self.best = math.nan

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False  # a NaN loss is never an improvement
        if math.isnan(self.best):
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta


def _snapshot(model) -> dict:
    return {k: np.array(v._data, copy=True) for k, v in model.state_dict().items()}


def _restore(model, snapshot: dict) -> None:
    from ..creation import from_numpy

    model.load_state_dict({k: from_numpy(a.copy()) for k, a in snapshot.items()})


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs in a row.

    An improvement must beat the best value so far by more than ``min_delta``.
    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names).
    With ``restore_best=True`` the model gets back the weights of its best epoch when
    training ends (if that was not the last epoch).

    >>> es = EarlyStopping(monitor="val_loss", patience=2)
    >>> es.best_epoch is None
    True
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = False):
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = min_delta
        self.mode = mode
        self.restore_best = restore_best
        self._tracker = _Improvement(monitor, mode, min_delta)
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.restored = False
        self._best_weights: dict | None = None
        self._last_epoch: int | None = None
        self._reason: str | None = None
        self.wait = 0

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_train_begin(self, logs=None) -> None:
        self._tracker = _Improvement(self.monitor, self.mode, self.min_delta)
        self.wait = 0
        self.best_epoch = self.stopped_epoch = None
        self._best_weights = None
        self.restored = False
        self._last_epoch = None
        self._reason = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = _monitored(logs or {}, self.monitor, "EarlyStopping")
        self._last_epoch = epoch
        if self._tracker.improved(value):
            self._tracker.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best:
                self._best_weights = _snapshot(self.model)
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self._reason = (f"EarlyStopping: {self.monitor} has not improved for "
                            f"{self.wait} epoch{'s' if self.wait > 1 else ''} (best "
                            f"{self.best:.6g} at epoch {self.best_epoch}); stopped "
                            f"after epoch {epoch}")
            _stop(self.trainer, self._reason)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        # Resumed from a checkpoint of a run that had already stopped: it stays stopped.
        if self._reason is not None and self.trainer is not None:
            _stop(self.trainer, self._reason)

    def state_dict(self) -> dict:
        """The patience count, the best value and epoch, and (with ``restore_best``)
        the best weights."""
        return {"wait": self.wait, "best": self._tracker.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "last_epoch": self._last_epoch,
                "reason": self._reason, "best_weights": self._best_weights}

    def load_state_dict(self, state: dict) -> None:
        weights = state["best_weights"]
        if weights is not None and self.model is not None:
            own = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
            got = {k: tuple(getattr(v, "shape", ())) for k, v in weights.items()}
            if own != got:
                raise ValueError("EarlyStopping's saved best weights do not fit the model")
        self.wait = int(state["wait"])
        self._tracker.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self._last_epoch = state["last_epoch"]
        self._reason = state["reason"]
        self._best_weights = None if weights is None else {
            k: np.asarray(getattr(v, "_data", v)) for k, v in weights.items()}

    def on_train_end(self, logs=None) -> None:
        if (self.restore_best and self._best_weights is not None
                and self.best_epoch != self._last_epoch):
            _restore(self.model, self._best_weights)
            self.restored = True
            if self.trainer is not None and self.trainer.stop_reason:
                self.trainer.stop_reason += f"; restored the weights of epoch {self.best_epoch}"


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, with a message
    that names the epoch and the step, so a diverging run ends early and says where.

    >>> t = TerminateOnNaN()
    >>> class _T: stop_training = False; stop_reason = None
    >>> t.set_trainer(_T())
    >>> t.on_batch_end(7, {"loss": float("nan"), "epoch": 2, "batch": 3})
    >>> t.trainer.stop_reason
    'TerminateOnNaN: the loss is nan at epoch 2, step 7 (batch 3 of the epoch); training stopped'
    """

    def on_batch_end(self, step: int, logs=None) -> None:
        loss = logs["loss"]
        if not math.isfinite(loss):
            _stop(self.trainer, f"TerminateOnNaN: the loss is {loss} at epoch {logs['epoch']}, "
                                f"step {step} (batch {logs['batch']} of the epoch); "
                                "training stopped")


class ModelCheckpoint(Callback):
    """Save the model after each epoch (or only when ``monitor`` improves, with
    ``save_best_only``) to ``path``, a safetensors file written atomically.

    ``path`` may hold ``str.format`` fields filled from the epoch's logs, e.g.
    ``"model-{epoch:02d}-{val_loss:.3f}.safetensors"``. With ``training_state=True``
    the file is a full training checkpoint (``nabla.io.save_checkpoint``: optimizer,
    scheduler, epoch, step, random states and the history), from which
    ``nabla.io.load_checkpoint`` and ``fit(..., initial_epoch=...)`` resume exactly;
    ``extra`` (nested plain data) is stored in it beside the history, and so is the
    state of every callback (EarlyStopping's patience count, ...): list this callback
    after the others, so that their state is saved as of the epoch's end (the
    scheduler has stepped by then). ``metadata`` (str to str) goes into the file's
    header either way.
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", training_state: bool = False,
                 metadata: dict | None = None, extra: dict | None = None):
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = mode
        self.training_state = training_state
        self.metadata = metadata
        self.extra = extra
        self._tracker = _Improvement(monitor, mode, 0.0)
        self.last_saved: str | None = None
        self.best_epoch: int | None = None

    def on_train_begin(self, logs=None) -> None:
        self._tracker = _Improvement(self.monitor, self.mode, 0.0)

    def state_dict(self) -> dict:
        return {"best": self._tracker.best, "best_epoch": self.best_epoch,
                "last_saved": self.last_saved}

    def load_state_dict(self, state: dict) -> None:
        self._tracker.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.last_saved = state["last_saved"]

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._tracker.improved(value):
                return
            self._tracker.best = value
            self.best_epoch = epoch
        path = self.path.format(epoch=epoch, **logs)
        self.save(path, epoch)
        self.last_saved = path

    def save(self, path: str, epoch: int) -> None:
        from .. import io

        t = self.trainer
        if self.training_state:
            io.save_checkpoint(path, t.model, t.optimizer, t.scheduler, epoch=epoch,
                               step=t.step, generator=getattr(t.train_data, "generator", None),
                               callbacks=getattr(t, "callbacks", None),
                               extra={**(self.extra or {}), "history": t.history.to_dict()},
                               metadata=self.metadata)
        else:
            io.save(t.model, path, metadata=self.metadata)


class CSVLogger(Callback):
    """Append one CSV row per epoch (``epoch`` then the logged values) to ``path``,
    flushed as it is written, so a crashed run keeps its finished epochs.

    With ``append=True`` an existing file is continued (its header is kept).
    """

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path = os.fspath(path)
        self.separator = separator
        self.append = append
        self._file = None
        self._writer = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs=None) -> None:
        self._keys = None
        if self.append and os.path.exists(self.path) and os.path.getsize(self.path):
            with open(self.path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            if header and header[0] == "epoch":
                self._keys = header[1:]
        self._file = open(self.path, "a" if self.append else "w", newline="",  # noqa: SIM115
                          encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(repr(float(logs[k])) if k in logs else ""
                                        for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
