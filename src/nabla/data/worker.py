"""Worker processes for ``DataLoader(num_workers=N)``.

Each worker is a separate process (``fork`` where the platform has it, so datasets and
collate functions defined in a script need no pickling) that receives batches of indices
on its own queue, fetches and collates them, and sends the batch back on a queue shared
by all workers. The main process keeps up to ``prefetch_factor * num_workers`` batches in
flight and yields them in order. Tensors cross the process boundary as their NumPy
arrays (``multiprocessing`` queues serialise them in memory between the processes;
nothing is written to a file).

In a worker, :func:`nabla.data.get_worker_info` says which worker it is.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import random
import time
import traceback
import weakref

import numpy as np

from ..creation import from_numpy as _from_numpy
from ..tensor import Tensor
from .worker_info import WorkerInfo, _info


class _Packed:
    """A tensor on its way between processes: only its array travels."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        return _Packed, (self.array,)


def _pack(obj):
    if isinstance(obj, Tensor):
        return _Packed(obj._data)
    if isinstance(obj, dict):
        return type(obj)((k, _pack(v)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_pack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(v) for v in obj)
    return obj


def _unpack(obj):
    if isinstance(obj, _Packed):
        return _from_numpy(obj.array)
    if isinstance(obj, dict):
        return type(obj)((k, _unpack(v)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(v) for v in obj)
    return obj


class _Failure:
    """An exception raised in a worker, carried back as its type and its traceback."""

    def __init__(self, worker_id: int, exc: BaseException):
        self.exc_type = type(exc)
        self.text = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}."
                     f"\nOriginal traceback:\n{traceback.format_exc()}")

    def reraise(self):
        try:
            exc = self.exc_type(self.text)
        except Exception:  # noqa: BLE001 - an exception type whose constructor differs
            exc = RuntimeError(self.text)
        raise exc


_END = "__nabla_worker_stream_end__"  # an IterableDataset's worker copy is exhausted


def _seed_worker(seed: int) -> None:
    from .. import random as _nabla_random

    random.seed(seed)
    _nabla_random.manual_seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global NumPy generator augmentations use


def _worker_loop(worker_id, num_workers, seed, dataset, fetch, next_batch, init_fn,
                 tasks, results):
    """The body of a worker process: serve tasks until ``None`` arrives."""
    _seed_worker(seed)
    _info[0] = WorkerInfo(worker_id, num_workers, seed, dataset)
    failure = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as e:  # noqa: BLE001 - reported to the main process
            failure = _Failure(worker_id, e)
    stream = None
    while True:
        task = tasks.get()
        if task is None:
            return
        epoch, key, indices = task
        if failure is not None:
            results.put((epoch, key, failure))
            continue
        try:
            if isinstance(indices, str):  # _END: the next batch of this worker's stream
                if key == -1:  # a new epoch: start the stream over
                    stream = iter(dataset)
                    continue
                batch = next_batch(stream)
                out = _END if isinstance(batch, str) and batch == _END else _pack(batch)
            else:
                out = _pack(fetch(indices))
        except Exception as e:  # noqa: BLE001 - reported to the main process
            out = _Failure(worker_id, e)
        results.put((epoch, key, out))


def _context(name):
    if name is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else None)
    if isinstance(name, str):
        return multiprocessing.get_context(name)
    return name


class WorkerPool:
    """``num_workers`` processes serving one loader, for one epoch or (persistent) many."""

    def __init__(self, loader, seed: int):
        ctx = _context(loader.multiprocessing_context)
        n = loader.num_workers
        self.timeout = loader.timeout
        self.in_flight = loader.prefetch_factor * n
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(n)]
        self.procs = []
        for i in range(n):
            p = ctx.Process(target=_worker_loop, daemon=True, args=(
                i, n, seed + i, loader.dataset, loader._fetch, loader._next_batch,
                loader.worker_init_fn, self.tasks[i], self.results))
            p.start()
            self.procs.append(p)
        self.epoch = 0
        self._finalizer = weakref.finalize(self, _shutdown, self.procs, self.tasks,
                                           self.results)

    def shutdown(self) -> None:
        self._finalizer()

    def _get(self):
        """The next result of the current epoch, checking the workers while waiting."""
        start = time.monotonic()
        while True:
            try:
                epoch, key, out = self.results.get(timeout=0.5)
            except queue.Empty:
                for p in self.procs:
                    if not p.is_alive():
                        raise RuntimeError(f"DataLoader worker (pid {p.pid}) exited "
                                           f"unexpectedly with exit code {p.exitcode}") from None
                if self.timeout and time.monotonic() - start > self.timeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds "
                                       "waiting for a batch from its workers") from None
                continue
            if epoch != self.epoch:
                continue  # left over from an epoch abandoned half way
            if isinstance(out, _Failure):
                out.reraise()
            return key, out

    def map_epoch(self, batches):
        """Batches of a map-style dataset: ``batches`` yields index lists or arrays."""
        self.epoch += 1
        n, sent, ready, want = len(self.procs), 0, {}, 0
        batches = iter(batches)
        exhausted = False
        while True:
            while not exhausted and sent - want < self.in_flight:
                indices = next(batches, None)
                if indices is None:
                    exhausted = True
                    break
                self.tasks[sent % n].put((self.epoch, sent, indices))
                sent += 1
            if want == sent:
                return
            while want not in ready:
                key, out = self._get()
                ready[key] = out
            yield _unpack(ready.pop(want))
            want += 1

    def iterable_epoch(self):
        """Batches of an IterableDataset: each worker streams its own copy, taken in
        turn (worker 0, 1, ..., 0, ...) until every copy is exhausted."""
        self.epoch += 1
        for q in self.tasks:
            q.put((self.epoch, -1, _END))
        active = list(range(len(self.procs)))
        keys = itertools.count()
        pending = {}  # key -> worker
        order = []  # keys in the order they were asked for
        turn = 0
        ready = {}
        while active or order:
            while active and len(pending) < self.in_flight:
                w = active[turn % len(active)]
                turn += 1
                key = next(keys)
                self.tasks[w].put((self.epoch, key, _END))
                pending[key] = w
                order.append(key)
            if not order:
                return
            want = order.pop(0)
            while want not in ready:
                key, out = self._get()
                ready[key] = out
            out, w = ready.pop(want), pending.pop(want)
            if isinstance(out, str) and out == _END:  # equal, not identical: it was pickled
                if w in active:
                    active.remove(w)
                continue
            yield _unpack(out)


def _shutdown(procs, tasks, results) -> None:
    for q, p in zip(tasks, procs):
        if p.is_alive():
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
    for p in procs:
        p.join(timeout=2)
        if p.is_alive():
            p.terminate()
            p.join(timeout=1)
    for q in [*tasks, results]:
        q.cancel_join_thread()
        q.close()
