"""DistributedDataParallel on two real MPI ranks: exactness, no_sync, faults."""

from pathlib import Path

from mpi_run import mpirun

HERE = Path(__file__).resolve().parent / "distributed"


def test_ddp_on_two_ranks_trains_as_one_process_on_the_whole_batch():
    out = mpirun(HERE / "ddp_check.py", timeout=300).output
    assert "rank 0: ok" in out and "rank 1: ok" in out


def test_a_rank_that_raises_ends_the_whole_job_quickly():
    import time

    start = time.monotonic()
    proc = mpirun(HERE / "fault_check.py", check=False, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert "rank 1 fails at step 3" in proc.output  # the failing rank's traceback
    assert "finished without the failure" not in proc.output
    assert elapsed < 60, f"the job took {elapsed:.0f} s to end"  # 30 s target, loaded CI
