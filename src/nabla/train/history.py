"""``History``: what ``fit`` measured, epoch by epoch.

It behaves like a dict of lists (``history["loss"]``, ``history["val_accuracy"]``,
``"lr" in history``), one value per epoch, with the epoch numbers in ``.epochs``.

>>> h = History()
>>> h.append(1, {"loss": 0.9, "accuracy": 0.5})
>>> h.append(2, {"loss": 0.4, "accuracy": 0.8})
>>> h["loss"], h.epochs, len(h)
([0.9, 0.4], [1, 2], 2)
>>> h.best("accuracy")
(2, 0.8)
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator, Mapping


def _is_max_metric(name: str) -> bool:
    """Whether larger is better for a history column (accuracies, F1 ...)."""
    base = name[4:] if name.startswith("val_") else name
    return any(w in base for w in ("acc", "f1", "precision", "recall", "auc"))


def history_problem(d) -> str | None:
    """What makes ``d`` unfit for :meth:`History.from_dict`, or None if it fits:
    a dict of str to equally long lists of numbers, ``epoch`` a list of ints."""
    if not isinstance(d, Mapping):
        return f"expected a dict of columns, got {type(d).__name__}"
    lengths = set()
    for key, column in d.items():
        if not isinstance(key, str) or not isinstance(column, list):
            return f"column {key!r} must be a list under a string name"
        kinds = (int,) if key == "epoch" else (int, float)
        if not all(isinstance(v, kinds) and not isinstance(v, bool) for v in column):
            return f"column {key!r} must hold only {'integers' if key == 'epoch' else 'numbers'}"
        lengths.add(len(column))
    if len(lengths) > 1:
        return f"columns have different lengths {sorted(lengths)}"
    return None


class History(Mapping):
    """Per-epoch training and validation values, dict-like.

    Columns appear in the order they were first logged; an epoch that lacks a column
    (validation skipped, say) holds NaN there, so all columns have one value per epoch.
    """

    def __init__(self, data: Mapping | None = None, epochs: list | None = None):
        self._data: dict[str, list[float]] = {k: list(v) for k, v in (data or {}).items()}
        lengths = {len(v) for v in self._data.values()}
        if len(lengths) > 1:
            raise ValueError(f"history columns have different lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        self.epochs: list[int] = list(epochs) if epochs is not None else list(range(1, n + 1))
        if len(self.epochs) != n:
            raise ValueError(f"{len(self.epochs)} epoch numbers for {n} rows")
        self.stop_reason: str | None = None  # set when a callback ended training early

    # Mapping protocol: history["loss"], keys(), items(), "loss" in history ...
    def __getitem__(self, key: str) -> list[float]:
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(f"no {key!r} in the history; it has {list(self._data)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        """The number of epochs recorded (not the number of columns)."""
        return len(self.epochs)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self._data.items()} if self.epochs else {}
        return f"History({len(self)} epochs, last {last})"

    @property
    def columns(self) -> list[str]:
        return list(self._data)

    def append(self, epoch: int, logs: Mapping) -> None:
        """Record the values of one epoch (new columns are back-filled with NaN)."""
        n = len(self.epochs)
        for key, value in logs.items():
            if key not in self._data:
                self._data[key] = [math.nan] * n
            self._data[key].append(float(value))
        for column in self._data.values():
            if len(column) == n:
                column.append(math.nan)
        self.epochs.append(int(epoch))

    def last(self) -> dict:
        """The values of the last epoch as a dict."""
        return {k: v[-1] for k, v in self._data.items()} if self.epochs else {}

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> tuple[int, float]:
        """``(epoch, value)`` of the best epoch for ``monitor`` (NaNs ignored).

        ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names).
        """
        values = self[monitor]
        maximize = _is_max_metric(monitor) if mode == "auto" else mode == "max"
        best_i = None
        for i, v in enumerate(values):
            if math.isnan(v):
                continue
            if best_i is None or (v > values[best_i] if maximize else v < values[best_i]):
                best_i = i
        if best_i is None:
            raise ValueError(f"{monitor!r} has no value that is not NaN")
        return self.epochs[best_i], values[best_i]

    def to_dict(self) -> dict:
        """Plain data (``{"epoch": [...], "loss": [...], ...}``), e.g. for JSON."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self._data.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> History:
        """The inverse of :meth:`to_dict`; raises ``ValueError`` naming what is wrong
        with ``d`` (it may come from a file).

        >>> History.from_dict({"epoch": [1, 2], "loss": [0.5, 0.25]})["loss"]
        [0.5, 0.25]
        """
        problem = history_problem(d)
        if problem:
            raise ValueError(f"invalid history: {problem}")
        d = dict(d)
        epochs = d.pop("epoch", None)
        return cls(d, epochs)

    def to_csv(self, path) -> None:
        """Write one row per epoch (``epoch`` first), atomically.

        >>> import os, tempfile
        >>> h = History({"loss": [0.5, 0.25]})
        >>> p = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> h.to_csv(p); print(open(p).read().strip())
        epoch,loss
        1,0.5
        2,0.25
        """
        from ..io import atomic_write_bytes

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["epoch", *self._data])
        for i, epoch in enumerate(self.epochs):
            writer.writerow([epoch, *(repr(v[i]) for v in self._data.values())])
        atomic_write_bytes(path, buf.getvalue().encode("utf-8"))

    @classmethod
    def from_csv(cls, path) -> History:
        """Read a CSV written by :meth:`to_csv` (or by ``CSVLogger``)."""
        with open(os.fspath(path), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows or not rows[0] or rows[0][0] != "epoch":
            raise ValueError(f"{path}: not a history CSV (the first column must be 'epoch')")
        header, body = rows[0], rows[1:]
        try:
            epochs = [int(r[0]) for r in body]
            data = {k: [float(r[j]) if r[j] != "" else math.nan for r in body]
                    for j, k in enumerate(header) if j}
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path}: malformed history row ({e})") from None
        return cls(data, epochs)
