"""Split a batch over threads, for the kernels that NumPy runs on one core.

A convolution's im2col copies and its many small per-sample matrix products (and the
pooling passes) each run on one core: OpenBLAS splits a product over its threads only
when the product is big, and NumPy's ufuncs and copies never do. The samples of a batch
are independent, so such a kernel splits the batch into contiguous parts, one per
thread. NumPy releases the GIL inside matrix products, ufuncs and copies, so the parts
truly run at once. On the 2-core development machine a LeNet-5 training step (batch
64) takes 4.3 ms instead of 5.4 ms. A split costs 60-150 us there (waking a sleeping
thread takes ~13 us on the calling thread and ~15 us more before the part starts; the
caller's wait at the end, and OpenBLAS's shutdown below, add the rest), so only kernels
with far more work than that split (convolution does; pooling and the per-step work of
a recurrent layer did not gain, and do not). A worker that spins instead of sleeping
(tried: in C, through ctypes, without the GIL) starts at once, but holds a core that
the caller and OpenBLAS's threads need: LeNet-5's step took 77 ms instead of 4 ms.

One thing stands in the way: OpenBLAS's own worker threads. After a multi-threaded
product they spin, waiting for the next one, for about 0.1 s (2^28 cycles) before they
sleep, and on a small machine a spinning worker takes the very core a part would run
on: LeNet-5's step got slower, not faster. Only OpenBLAS's ``blas_thread_shutdown_``
(what it calls itself before a fork) stops them; the next product that wants threads
starts them again. ``split`` calls it when it can do so safely: when no other Python
thread exists that could be inside OpenBLAS at that moment. While the parts run,
OpenBLAS is also held to one thread (``openblas_set_num_threads``, set before the
shutdown, since setting a count restarts stopped threads): each part is one thread's
share already, and two parts that each asked OpenBLAS for two threads ran the MNIST
CNN's convolution backward at half speed (10.5 ms instead of 21 for conv2's input
gradient, batch 64; the whole training step 112 -> 74 ms). The count comes back
after. Where OpenBLAS is not the BLAS, or the symbols are missing, nothing is done.
threadpoolctl finds the library (on first use, not at ``import nabla``); the two calls
are made by hand, as threadpoolctl has no call that stops the spinning threads, and
its thread setting is a context manager too slow for every split.

The number of threads is PyTorch's knob: ``nabla.set_num_threads(n)``; by default the
cores this process may run on, or ``OMP_NUM_THREADS`` when that is set.

>>> import nabla
>>> nabla.get_num_threads() >= 1
True
>>> split(lambda lo, hi: (lo, hi), 10, min_rows=4)[0][0]
0
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np

__all__ = ["get_num_threads", "openblas", "openblas_symbol", "set_num_threads", "split"]

_setting = [None]  # set_num_threads' value; None: the default
_default: list = []  # the default, found on first use
_workers: list = []  # the _Worker threads, started as splits first need them
_in_use = threading.Lock()  # held by the split that has the workers
_local = threading.local()  # .busy: this thread is running a part already


def _default_threads() -> int:
    # Found once, as PyTorch does at start-up: every split asks, and the environment
    # lookup and affinity syscall took ~13 us there while OpenBLAS's threads still spun.
    if not _default:
        _default.append(_find_default_threads())
    return _default[0]


def _find_default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many threads nabla's batch-parallel kernels use (see the module docstring):
    ``set_num_threads``' value, else ``OMP_NUM_THREADS`` or the cores this process may run
    on, as they were when nabla first asked."""
    return _setting[0] if _setting[0] is not None else _default_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in nabla's batch-parallel kernels (1: run everything on the
    calling thread). As ``torch.set_num_threads``; BLAS keeps its own setting.

    >>> import nabla
    >>> before = nabla.get_num_threads()
    >>> nabla.set_num_threads(1); nabla.get_num_threads()
    1
    >>> nabla.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _setting[0] = n


class _Worker:
    """One thread that runs a part when it is handed one.

    Two locks pass the part over and the result back: against a ThreadPoolExecutor
    (a Future, its Condition and a queue per part) this takes ~20 us less per split on
    the 2-core development machine, where every wakeup of a sleeping thread is slow.
    """

    def __init__(self, name):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.job = self.out = None
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def _loop(self):
        _local.busy = True  # a part that splits again runs its inner parts here
        while True:
            self.go.acquire()
            fn, lo, hi = self.job
            self.job = None
            try:
                self.out = (fn(lo, hi), None)
            except BaseException as err:  # raised again on the calling thread
                self.out = (None, err)
            fn = None  # the part's closure must not outlive the split
            self.done.release()

    def start(self, fn, lo, hi):
        self.job = (fn, lo, hi)
        self.go.release()

    def result(self):
        """Wait for the part to finish: ``(value, None)`` or ``(None, exception)``."""
        self.done.acquire()
        out, self.out = self.out, None
        return out


def _pool(workers: int) -> list:
    """``workers`` idle worker threads, started on first use."""
    while len(_workers) < workers:
        _workers.append(_Worker(f"nabla-{len(_workers)}"))
    return _workers[:workers]


def _forget_pool():
    # A forked child has the worker objects but none of their threads: start afresh.
    global _in_use
    _workers.clear()
    _in_use = threading.Lock()
    _default.clear()  # the child may be given other cores


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


_blas_calls = []  # [(shutdown, get threads, set threads)], looked up on first use


def _blas():
    if not _blas_calls:
        _blas_calls.append((_find_blas_shutdown(), *_find_blas_threads()))
    return _blas_calls[0]


def _quiet_blas() -> int | None:
    """Stop OpenBLAS's spinning worker threads, and have its products run on the calling
    thread alone, until ``_restore_blas`` (see the module docstring). Returns the thread
    count to restore, or None where nothing was changed."""
    stop, get, set_ = _blas()
    before = get() if get is not None else None
    if before is not None and before > 1:
        # Before the shutdown: in OpenBLAS, setting a count restarts stopped threads.
        set_(1)
    else:
        before = None
    # Our own workers are idle here; any other thread might be inside a BLAS call.
    if stop is not None and threading.active_count() <= 1 + len(_workers):
        stop()
    return before


def _restore_blas(before: int | None) -> None:
    if before is not None:
        _blas()[2](before)


def _find_blas_shutdown():
    return openblas_symbol("blas_thread_shutdown_")[0]


def _find_blas_threads():
    """OpenBLAS's ``openblas_get_num_threads`` and ``openblas_set_num_threads``; (None,
    None) where they are missing."""
    get, _ = openblas_symbol("openblas_get_num_threads")
    set_, _ = openblas_symbol("openblas_set_num_threads")
    return (get, set_) if get is not None and set_ is not None else (None, None)


def openblas_symbol(name: str):
    """``(function, suffix)`` for the routine ``name`` of NumPy's OpenBLAS, by whatever
    prefix and suffix this build gives its symbols (SciPy's wheels: "scipy_" and "64_",
    the suffix of 64-bit integer arguments); (None, None) where it is missing."""
    lib = openblas()
    if lib is not None:
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_", "_64"):
                fn = getattr(lib, f"{prefix}{name}{suffix}", None)
                if fn is not None:
                    return fn, suffix
    return None, None


def openblas():
    """The OpenBLAS library NumPy loaded (a ``ctypes.CDLL``), or None where NumPy uses
    another BLAS.

    threadpoolctl finds it among the libraries this process has loaded (it also reports
    its version, thread count and kernel set: ``threadpoolctl.threadpool_info()``);
    only the one call it does not offer, stopping the spinning threads, is made here.
    """
    from threadpoolctl import ThreadpoolController  # ~7 ms to import: on first use only

    found = ThreadpoolController().select(internal_api="openblas").lib_controllers
    # Other packages may bring their own OpenBLAS (SciPy's wheels do): NumPy's first.
    found.sort(key=lambda c: "numpy" not in c.filepath)
    for controller in found:
        lib = getattr(controller, "dynlib", None)
        if lib is not None:
            return lib
    return None


def _run(fn, lo, hi):
    _local.busy = True
    try:
        return fn(lo, hi)
    finally:
        _local.busy = False


def split(fn, n: int, min_rows: int = 1) -> list:
    """``[fn(lo, hi), ...]`` over contiguous parts ``[lo, hi)`` of ``range(n)``, the parts
    run at once on ``get_num_threads()`` threads (the first on the calling thread).

    Parts have at least ``min_rows`` rows, so a small batch runs in one call. ``fn``
    must only write to its own rows of any shared output. Every part has finished when
    this returns, also when one raised: its exception is raised here. A part that
    splits again runs its inner parts on its own thread.
    """
    parts = min(get_num_threads(), n // max(min_rows, 1))
    if parts <= 1 or getattr(_local, "busy", False):
        return [fn(0, n)]
    bounds = [n * i // parts for i in range(parts + 1)]
    if not _in_use.acquire(blocking=False):
        # Another thread of the program has the workers: the same parts, run here one
        # after another (so that sums over parts come out the same).
        return [_run(fn, bounds[i], bounds[i + 1]) for i in range(parts)]
    try:
        workers = _pool(parts - 1)
        blas_threads = _quiet_blas()
        try:
            for i, w in enumerate(workers, 1):
                w.start(fn, bounds[i], bounds[i + 1])
            # Give up the core for a moment: Linux queues a woken worker on the core that
            # woke it, and with this thread busy there (a compiled kernel, a long BLAS
            # call) the worker waited for the load balancer: its part started 0.7-1.5 ms
            # late in the median (up to 6), against 0.13-0.15 ms after a yield, measured
            # on the 2-core Xeon (Sapphire Rapids) VM. LSTM step 6.1-6.2 -> 5.8-6.0 ms.
            time.sleep(0)
            try:
                first = _run(fn, bounds[0], bounds[1])
            finally:
                rest = [w.result() for w in workers]  # wait for all: none writes behind us
        finally:
            _restore_blas(blas_threads)
    finally:
        _in_use.release()
    for _, err in rest:
        if err is not None:
            raise err
    return [first] + [value for value, _ in rest]


# An elementwise pass over fewer elements than this runs on the calling thread: a split
# costs 60-150 us, a float32 pass over 2^20 elements ~0.5-1 ms on the development
# machine, so each part gets at least half of this.
BIG = 1 << 20


# From this many elements, a pass that streams through memory (a bias added to a
# language model's 93 MB of logits, the zeros of their gradient) runs faster in parts on
# the threads: 700 x 33278 float32, bias 6.6 -> 3.5 ms, zeros 9.2 -> 6.1 ms; at 2^22
# elements 0.83 -> 0.66 ms. Below, one core's pass is as fast or faster (its data in
# cache): at 2^20 elements 0.20 against 0.31 ms, at 2^21 on par.
STREAM = 1 << 22


def zeros(shape, dtype):
    """``np.zeros(shape, dtype)``, cleared in parts on the threads from ``STREAM``
    elements: glibc's calloc hands out zero pages cheaply only when it maps fresh
    memory, and the tuned allocator (``backend.tune_allocator``) reuses freed blocks,
    which calloc then clears with one memset on one core.

    >>> zeros((2, 3), "float32").sum()
    np.float32(0.0)
    """
    if math.prod(shape if isinstance(shape, tuple) else (shape,)) < STREAM:
        return np.zeros(shape, dtype)
    a = np.empty(shape, dtype)
    split_rows(lambda lo, hi: a[lo:hi].fill(0), a)
    return a


def add_rowwise(out, b):
    """``out += b`` in place (``b`` broadcast along ``out``'s rows: a layer's bias), in
    parts on the threads from ``STREAM`` elements."""
    if out.size >= STREAM and out.ndim > 1:
        split_rows(lambda lo, hi: np.add(out[lo:hi], b, out=out[lo:hi]), out)
    else:
        out += b


def _sum_parts(parts, k):
    """The sum of the k-th results of ``split``'s parts (None if the parts gave none)."""
    total = parts[0][k]
    if total is not None:
        for p in parts[1:]:
            total += p[k]
    return total


def split_rows(fn, a) -> list:
    """``split(fn, len(a))`` for an elementwise pass over the rows of ``a`` (axis 0), in
    parts of at least ``BIG // 2`` elements: ``fn(lo, hi)`` does rows lo..hi. Callers
    check ``a.size >= BIG`` first, so that small arrays pay for no closure at all.

    >>> import numpy as np
    >>> x = np.arange(6.0).reshape(3, 2)
    >>> out = np.empty_like(x)
    >>> _ = split_rows(lambda lo, hi: np.negative(x[lo:hi], out=out[lo:hi]), x)
    >>> out[2].tolist()
    [-4.0, -5.0]
    """
    n = a.shape[0] if a.ndim else 1
    row = a.size // n if n else 1
    return split(fn, n, -(-(BIG // 2) // max(row, 1)))
