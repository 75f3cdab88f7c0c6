"""The ``TensorBoard`` callback: ``fit``'s progress as TensorBoard event files.

>>> import tempfile, nabla
>>> from nabla import nn, optim, train
>>> from nabla.data import datasets
>>> from nabla.train.tensorboard import TensorBoard
>>> X, y = datasets.xor(64, seed=0)
>>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
>>> log_dir = tempfile.mkdtemp()
>>> h = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
...               (X, y), epochs=2, batch_size=16, verbose=0,
...               callbacks=[TensorBoard(log_dir, histogram_freq=1)])
"""

from __future__ import annotations

import math
import numbers

from .callbacks import Callback


class TensorBoard(Callback):
    """Log each epoch's ``logs`` (loss, metrics, ``val_*``, learning rate) as scalars
    at step ``epoch``; every ``histogram_freq`` epochs (0: never) the histogram of each
    parameter (tag: its name) and of its gradient (``<name>.grad``). At the end of
    training, ``hparams`` (a dict, optional) go to the HParams tab with the final logs
    as their metrics. ``log_dir`` None: torch's default ``runs/<datetime>_<host>``.

    Gradients are those of the epoch's last batch: what the optimizer stepped with last.
    """

    def __init__(self, log_dir=None, histogram_freq: int = 1, hparams: dict | None = None):
        if histogram_freq < 0:
            raise ValueError(f"histogram_freq must be >= 0, got {histogram_freq}")
        self.log_dir = log_dir
        self.histogram_freq = histogram_freq
        self.hparams = hparams
        self.writer = None
        self._last = {}

    def on_train_begin(self, logs=None) -> None:
        # Imported here: tensorboardX is an optional extra, needed only once training
        # with this callback starts.
        from ..utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(self.log_dir)
        self.log_dir = self.writer.log_dir

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        scalars = {k: float(v) for k, v in (logs or {}).items()
                   if isinstance(v, numbers.Real) and not isinstance(v, bool) and k != "epoch"}
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, epoch)
        self._last = scalars
        if self.histogram_freq and epoch % self.histogram_freq == 0 and self.model is not None:
            for name, p in self.model.named_parameters():
                self.writer.add_histogram(name, p._data, epoch)
                if p.grad is not None:
                    self.writer.add_histogram(f"{name}.grad", p.grad._data, epoch)
        self.writer.flush()

    def on_train_end(self, logs=None) -> None:
        if self.writer is None:
            return
        if self.hparams:
            metrics = {f"hparam/{k}": v for k, v in self._last.items() if math.isfinite(v)}
            self.writer.add_hparams(self.hparams, metrics, run_name="hparams")
        self.writer.close()
