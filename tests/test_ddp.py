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


def test_nabla_train_nproc_2_end_to_end_and_its_checkpoint_resumes_on_one_process(tmp_path):
    import os
    import subprocess
    import sys

    import pytest

    pytest.importorskip("mpi4py")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root / "src"), MPLBACKEND="Agg")

    def nabla(*args):
        return subprocess.run([sys.executable, "-m", "nabla", *args], capture_output=True,
                              text=True, env=env, timeout=300)

    out = tmp_path / "run"
    two = nabla("train", "--nproc", "2", "--epochs", "2", "--out", str(out), "--no-plots",
                "--hidden", "32")
    assert two.returncode == 0, two.stdout + two.stderr
    assert two.stdout.count("run directory:") == 1  # only rank 0 speaks
    assert two.stdout.count("test accuracy:") == 1 and "Traceback" not in two.stderr
    assert "batch 32" in two.stdout  # the global batch, as asked for
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors", "history.csv", "model.safetensors"]
    one = nabla("train", "--resume", str(out / "checkpoint.safetensors"), "--epochs", "3",
                "--no-plots", "-q")
    assert one.returncode == 0, one.stdout + one.stderr
    assert "test accuracy" in one.stdout
    bad = nabla("train", "--nproc", "2", "--batch-size", "63", "--out", str(tmp_path / "b"))
    assert bad.returncode != 0 and "does not split evenly" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "b").exists()
