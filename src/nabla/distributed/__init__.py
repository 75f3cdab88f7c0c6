"""Data-parallel training over Open MPI, with PyTorch's ``torch.distributed`` API.

Start the same script on every rank with a launcher (``mpirun -n 4 python train.py``,
``mpiexec``, ``srun``); each calls ``init_process_group(backend="mpi")`` and learns its
rank and the world's size from MPI. ``nabla.nn.parallel.DistributedDataParallel``
averages gradients across the ranks during backward, and
``nabla.utils.data.distributed.DistributedSampler`` gives each rank its share of the
data. Importing this module does not import mpi4py; the first call that needs MPI does,
and says how to install it when it is missing (``pip install 'nabla[distributed]'``).

>>> import nabla.distributed as dist
>>> dist.is_initialized()
False
"""

from .collectives import (
    DistributedError,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    gather,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    recv,
    reduce,
    scatter,
    send,
)

__all__ = [
    "DistributedError", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
    "all_reduce", "barrier", "broadcast", "destroy_process_group", "gather", "get_backend",
    "get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized",
    "recv", "reduce", "scatter", "send",
]
