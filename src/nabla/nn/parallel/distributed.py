"""``DistributedDataParallel``: synchronous data parallelism over MPI, PyTorch's way.

Every rank holds a full replica of the model and runs it on its own share of each batch.
At construction rank 0's parameters and buffers are broadcast, so the replicas start
identical; during backward the gradients are averaged across ranks, so every optimizer
step sees the same gradient and the replicas stay identical.

The averaging overlaps with backward, as PyTorch's reducer does. The parameters are
grouped into buckets (in reverse order of registration, roughly the order in which
backward produces their gradients). A hook fires when a parameter's ``.grad`` has been
accumulated; when every parameter of a bucket is ready, the bucket's gradients are
copied into one flat buffer and a non-blocking allreduce starts on it, while backward
goes on with the layers below. Buckets are started strictly in order, because MPI needs
every rank to start its collectives in the same order. When the last bucket has
started, the reducer waits for all of them and writes the averages back into the
``.grad`` arrays, all before ``backward()`` returns.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ...autograd import no_grad
from ...distributed import collectives as _c
from ..module import Module

_FIRST_BUCKET_BYTES = 1 << 20  # a small first bucket starts communicating early, as torch


class _Bucket:
    __slots__ = ("params", "offsets", "buffer", "pending", "work", "index")

    def __init__(self, params, index):
        self.params = params
        self.index = index
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = np.zeros(self.offsets[-1], params[0]._data.dtype)
        self.pending = len(params)
        self.work = None


class DistributedDataParallel(Module):
    """Wrap ``module`` so that its gradients are averaged across the MPI ranks.

    Arguments follow PyTorch's: ``broadcast_buffers`` (rank 0's buffers, such as
    BatchNorm's running statistics, are broadcast at each forward), ``bucket_cap_mb``,
    ``find_unused_parameters`` (parameters that the forward's output does not depend on
    are marked ready at once, so their buckets still complete). ``device_ids`` and
    ``output_device`` are accepted for compatibility and must name the CPU or nothing.

    >>> import nabla                                          # doctest: +SKIP
    >>> import nabla.distributed as dist                      # doctest: +SKIP
    >>> dist.init_process_group("mpi")                        # doctest: +SKIP
    >>> model = nabla.nn.parallel.DistributedDataParallel(nabla.nn.Linear(4, 2))  # doctest: +SKIP
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False, **kwargs):
        super().__init__()
        if device_ids not in (None, [], ["cpu"], "cpu") or output_device not in (None, "cpu"):
            raise ValueError("DistributedDataParallel: nabla runs on the CPU; leave "
                             "device_ids and output_device unset")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.require_backward_grad_sync = True
        comm = _c._comm()
        self.__dict__["_comm"] = comm
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        _check_same_model(comm, module)
        with no_grad():
            for _, t in list(module.named_parameters()) + list(module.named_buffers()):
                _c._broadcast_array(comm, t._data, 0)
        cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * (1 << 20))
        self.__dict__["_buckets"] = _make_buckets([p for _, p in named], cap)
        self.__dict__["_place"] = {id(p): (b, k) for b in self._buckets
                                   for k, p in enumerate(b.params)}
        self.__dict__["_ready"] = set()
        self.__dict__["_next"] = 0  # the next bucket to start
        self.__dict__["_syncing"] = False  # this backward averages (set at forward)
        self.__dict__["_hooks"] = [p.register_post_accumulate_grad_hook(self._grad_ready)
                                   for _, p in named]

    # ------------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        self._check_finished()
        if self.broadcast_buffers and self._comm.Get_size() > 1:
            with no_grad():
                for b in self.module.buffers():
                    _c._broadcast_array(self._comm, b._data, 0)
        out = self.module(*inputs, **kwargs)
        from ...autograd import is_grad_enabled

        syncing = is_grad_enabled() and self.require_backward_grad_sync
        self.__dict__["_syncing"] = syncing
        if syncing:
            self._prepare_for_backward(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally: backward passes inside do not communicate.

        The first backward after the block averages the accumulated gradients.
        """
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    # ------------------------------------------------------------------------ reducer
    def _prepare_for_backward(self, out) -> None:
        for b in self._buckets:
            b.pending, b.work = len(b.params), None
        self._ready.clear()
        self.__dict__["_next"] = 0
        if self.find_unused_parameters:
            used = _reachable_leaves(out)
            for b in self._buckets:
                for p in b.params:
                    if id(p) not in used:
                        self._mark(p, unused=True)

    def _grad_ready(self, p) -> None:
        if not self._syncing:
            return
        self._mark(p)
        self._start_ready_buckets()

    def _mark(self, p, unused: bool = False) -> None:
        if id(p) in self._ready:
            raise RuntimeError(
                "DistributedDataParallel: a parameter was marked ready twice in one backward "
                "(used again after its gradient was reduced, or backward called twice "
                "through the same forward); in PyTorch this also fails"
            )
        self._ready.add(id(p))
        b, k = self._place[id(p)]
        lo, hi = b.offsets[k], b.offsets[k + 1]
        if unused or p.grad is None:
            b.buffer[lo:hi] = 0
        else:
            b.buffer[lo:hi] = p.grad._data.reshape(-1)
        b.pending -= 1

    def _start_ready_buckets(self) -> None:
        buckets = self._buckets
        while self._next < len(buckets) and buckets[self._next].pending == 0:
            b = buckets[self._next]
            b.work = _c._allreduce_array(self._comm, b.buffer, _c._mpi().SUM, True, True)
            self.__dict__["_next"] = self._next + 1
        if self._next == len(buckets):
            self._finish()

    def _finish(self) -> None:
        used = None
        if self.find_unused_parameters:
            # A parameter unused here but used on another rank gets the average; one
            # unused on every rank keeps .grad None, as in PyTorch.
            mine = np.array([p.grad is not None for b in self._buckets for p in b.params],
                            np.int32)
            _c._allreduce_array(self._comm, mine, _c._mpi().MAX, False, False)
            used = iter(mine.tolist())
        for b in self._buckets:
            b.work.wait()
            b.work = None
            for k, p in enumerate(b.params):
                anywhere = next(used) if used is not None else True
                if p.grad is None:
                    if not anywhere:
                        continue
                    p.grad = _zeros_like(p)
                p.grad._data[...] = b.buffer[b.offsets[k]:b.offsets[k + 1]].reshape(p.shape)
        self.__dict__["_syncing"] = False

    def _check_finished(self) -> None:
        if self._syncing and self._ready and self._next < len(self._buckets):
            missing = [n for n, p in self.module.named_parameters()
                       if p.requires_grad and id(p) not in self._ready]
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting "
                "a new one: some parameters received no gradient in the last backward "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); pass "
                "find_unused_parameters=True to DistributedDataParallel if that is intended"
            )



def _zeros_like(p):
    from ...tensor import Tensor

    return Tensor._wrap(np.zeros(p.shape, p._data.dtype))


def _make_buckets(params, cap: int):
    """Parameters in reverse order, grouped by dtype into buckets of about ``cap`` bytes."""
    buckets, current, size, limit = [], [], 0, min(_FIRST_BUCKET_BYTES, cap)
    for p in reversed(params):
        if current and (size + p._data.nbytes > limit or p._data.dtype != current[0]._data.dtype):
            buckets.append(_Bucket(current, len(buckets)))
            current, size, limit = [], 0, cap
        current.append(p)
        size += p._data.nbytes
    if current:
        buckets.append(_Bucket(current, len(buckets)))
    return buckets


def _reachable_leaves(out) -> set:
    """ids of the leaf tensors that ``out`` (a tensor or nested structure) depends on."""
    stack, seen, leaves = [], set(), set()

    def collect(x):
        if isinstance(x, (list, tuple)):
            for y in x:
                collect(y)
        elif isinstance(x, dict):
            for y in x.values():
                collect(y)
        elif hasattr(x, "grad_fn"):
            if x.grad_fn is None:
                leaves.add(id(x))
            else:
                stack.append(x.grad_fn)

    collect(out)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for t in getattr(fn, "inputs", ()):
            if t.grad_fn is None:
                leaves.add(id(t))
            else:
                stack.append(t.grad_fn)
    return leaves


def _check_same_model(comm, module: Module) -> None:
    """Every rank wraps a model with the same parameter and buffer names, shapes, dtypes."""
    mine = [(kind, n, tuple(t.shape), t._data.dtype.name)
            for kind, items in (("parameter", module.named_parameters()),
                                ("buffer", module.named_buffers()))
            for n, t in items]
    everyone = comm.allgather(mine)
    ref = everyone[0]
    for r, theirs in enumerate(everyone):
        if theirs == ref:
            continue
        for a, b in zip(ref, theirs):
            if a != b:
                raise ValueError(
                    f"DistributedDataParallel: the ranks' models differ: rank 0 has {a[0]} "
                    f"{a[1]!r} of shape {a[2]} {a[3]} where rank {r} has {b[0]} {b[1]!r} of "
                    f"shape {b[2]} {b[3]}"
                )
        raise ValueError(
            f"DistributedDataParallel: the ranks' models differ: rank 0 has {len(ref)} "
            f"parameters and buffers, rank {r} has {len(theirs)}"
        )
