"""``SummaryWriter``: TensorBoard logging with ``torch.utils.tensorboard``'s API.

The event files are written by tensorboardX (``pip install 'nabla[tensorboard]'``), a
maintained writer of TensorBoard's format, imported only when a writer is made. nabla
Tensors are accepted wherever torch's writer takes a tensor; NumPy arrays and Python
numbers too. View the logs with ``tensorboard --logdir runs``.

>>> import tempfile, nabla
>>> from nabla.utils.tensorboard import SummaryWriter
>>> with SummaryWriter(tempfile.mkdtemp()) as w:
...     for step in range(3):
...         w.add_scalar("loss", 1.0 / (step + 1), step)
...     w.add_histogram("weights", nabla.randn(100), 0)
"""

from __future__ import annotations

import datetime
import os
import socket

import numpy as np


def default_log_dir(comment: str = "") -> str:
    """torch's default: ``runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname><comment>``.

    >>> default_log_dir("_lr0.1").startswith("runs" + os.sep)
    True
    >>> default_log_dir("_lr0.1").endswith(socket.gethostname() + "_lr0.1")
    True
    """
    stamp = datetime.datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


def _array(value):
    """A nabla Tensor (or anything array-like) as a NumPy array; numbers stay numbers."""
    if isinstance(value, (int, float, np.generic)):
        return value
    data = getattr(value, "_data", None)  # a nabla Tensor: its storage, without a copy
    if data is not None:
        value = data
    get = getattr(value, "get", None)  # a CuPy array lives on the GPU
    if callable(get) and not isinstance(value, np.ndarray):
        value = get()
    return np.asarray(value)


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir``, as ``torch.utils.tensorboard``.

    ``log_dir`` None means ``runs/<datetime>_<hostname><comment>`` (``comment`` is
    ignored when ``log_dir`` is given, as in torch). Events are buffered (at most
    ``max_queue`` of them, or ``flush_secs`` seconds) until ``flush()`` or ``close()``;
    the writer is a context manager that closes itself.
    """

    def __init__(self, log_dir=None, comment: str = "", purge_step=None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: str = ""):
        try:
            from tensorboardX import SummaryWriter as _Writer
        except ImportError:
            raise ImportError("TensorBoard logging needs tensorboardX: "
                              "pip install 'nabla[tensorboard]'") from None
        self.log_dir = os.fspath(log_dir) if log_dir is not None else default_log_dir(comment)

        def make(path):
            return _Writer(path, purge_step=purge_step, max_queue=max_queue,
                           flush_secs=flush_secs, filename_suffix=filename_suffix)

        self._make = make
        self._writer = make(self.log_dir)
        self._runs = {}  # add_scalars's runs, by directory

    def get_logdir(self) -> str:
        """The directory the event files go to."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value, global_step=None, walltime=None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        """One value of the curve ``tag`` at ``global_step``."""
        value = _array(scalar_value)
        self._writer.add_scalar(tag, float(np.asarray(value).reshape(-1)[0]), global_step,
                                walltime, display_name="", summary_description="")

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None,
                    walltime=None) -> None:
        """Several curves in one chart: as torch, each goes to a run of its own,
        ``log_dir/<main_tag>_<tag>`` (slashes in ``main_tag`` become underscores), under
        the tag ``main_tag``."""
        for tag, value in tag_scalar_dict.items():
            run = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            if run not in self._runs:
                self._runs[run] = self._make(run)
            self._runs[run].add_scalar(main_tag, float(np.asarray(_array(value)).reshape(-1)[0]),
                                       global_step, walltime)

    def add_histogram(self, tag: str, values, global_step=None, bins="tensorflow",
                      walltime=None, max_bins=None) -> None:
        """The distribution of ``values`` (a tensor of any shape) at ``global_step``."""
        self._writer.add_histogram(tag, _array(values).astype(np.float64).reshape(-1),
                                   global_step, bins, walltime, max_bins)

    def add_image(self, tag: str, img_tensor, global_step=None, walltime=None,
                  dataformats: str = "CHW") -> None:
        """An image: floats in [0, 1] or uint8 in [0, 255], laid out as ``dataformats``."""
        self._writer.add_image(tag, _array(img_tensor), global_step, walltime,
                               dataformats=dataformats)

    def add_images(self, tag: str, img_tensor, global_step=None, walltime=None,
                   dataformats: str = "NCHW") -> None:
        """A batch of images, shown as one grid."""
        self._writer.add_images(tag, _array(img_tensor), global_step, walltime,
                                dataformats=dataformats)

    def add_figure(self, tag: str, figure, global_step=None, close: bool = True,
                   walltime=None) -> None:
        """A matplotlib figure (or a list of them), rendered to an image."""
        self._writer.add_figure(tag, figure, global_step, close, walltime)

    def add_text(self, tag: str, text_string: str, global_step=None, walltime=None) -> None:
        """Text (Markdown) shown in TensorBoard's text tab."""
        self._writer.add_text(tag, text_string, global_step, walltime)

    def add_hparams(self, hparam_dict: dict, metric_dict: dict, hparam_domain_discrete=None,
                    run_name=None, global_step=None) -> None:
        """A run's hyperparameters and final metrics, for the HParams tab. As in torch,
        they go to a run of their own (``log_dir/<run_name or time>``). Values other than
        bool, int, float and str are written as their text. ``hparam_domain_discrete`` is
        accepted for torch's signature, but tensorboardX records no domains."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict should be dictionaries")
        hparams = {k: v if isinstance(v, (bool, int, float, str)) or v is None else str(v)
                   for k, v in hparam_dict.items()}
        metrics = {k: float(np.asarray(_array(v)).reshape(-1)[0])
                   for k, v in metric_dict.items()}
        self._writer.add_hparams(hparams, metrics, name=run_name, global_step=global_step)

    def flush(self) -> None:
        """Write the buffered events to disk."""
        for w in (self._writer, *self._runs.values()):
            w.flush()

    def close(self) -> None:
        """Flush and close the event files."""
        for w in (self._writer, *self._runs.values()):
            w.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
