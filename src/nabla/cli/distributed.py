"""``nabla train --nproc N``: the main job, data-parallel over N MPI ranks.

The command starts ``mpirun`` on itself; each rank runs the same ``nabla train`` with
the same options, wraps the model in ``DistributedDataParallel`` and reads its share of
each batch through a ``DistributedSampler``. The global batch (``--batch-size``) is split
evenly, ``batch / N`` samples a rank, and the gradients are averaged, so the learning
rate and the batch mean what they mean on one process. Only rank 0 prints and writes
the run directory; the checkpoint holds the unwrapped model, so it resumes with any
number of ranks, one included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .errors import CLIError

_RANK_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")  # set by MPI launchers


def under_mpi() -> bool:
    """True inside a rank that an MPI launcher started (with more than one rank)."""
    return any(os.environ.get(k, "1") not in ("", "1") for k in _RANK_ENV)


def launch(argv: list[str], nproc: int) -> int:
    """Run ``nabla argv`` on ``nproc`` ranks through mpirun; return its exit status."""
    mpirun = shutil.which("mpirun") or shutil.which("mpiexec")
    if mpirun is None:
        raise CLIError(f"--nproc {nproc} needs Open MPI's mpirun: pip install "
                       "'nabla[distributed]'")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise CLIError(f"--nproc {nproc} needs mpi4py: pip install 'nabla[distributed]'") \
            from None
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    # Each rank gets its share of the cores for its BLAS and kernel threads, unless the
    # user said otherwise; ranks that fight over cores are slower than fewer ranks.
    env.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    cmd = [mpirun, "-n", str(nproc)]
    if nproc > cores:
        cmd.append("--oversubscribe")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Open MPI refuses root (as in a container or CI) unless told twice.
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd += [sys.executable, "-m", "nabla", *argv]
    try:
        return subprocess.run(cmd, env=env).returncode
    except KeyboardInterrupt:
        return 130


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N`` (the ranks must not launch again)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


class Ranks:
    """This process's place in a data-parallel run (rank 0 of 1 when not distributed)."""

    def __init__(self, distributed: bool):
        self.distributed = distributed
        self.rank, self.world = 0, 1
        if distributed:
            import nabla.distributed as dist

            dist.init_process_group("mpi")
            self.rank, self.world = dist.get_rank(), dist.get_world_size()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def batch(self, global_batch: int) -> int:
        if global_batch % self.world:
            raise CLIError(f"--batch-size {global_batch} does not split evenly over "
                           f"--nproc {self.world} ranks: choose a multiple of {self.world}")
        return global_batch // self.world

    def abort(self, code: int) -> None:
        """End every rank: the others would wait forever in their next allreduce."""
        if self.distributed and self.world > 1:
            sys.stderr.flush()
            from mpi4py import MPI

            MPI.COMM_WORLD.Abort(code or 1)
