"""Which worker process this is, for datasets that split their work between workers.

An ``IterableDataset`` read by several workers is iterated by each of them; it splits
its stream by asking :func:`get_worker_info`:

>>> get_worker_info() is None  # in the main process
True
"""

from __future__ import annotations

from typing import NamedTuple


class WorkerInfo(NamedTuple):
    """What a worker process knows about itself (``id`` from 0 to ``num_workers - 1``)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_info: list = [None]  # set in each worker process when it starts


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of this worker process, or None in the main process."""
    return _info[0]
