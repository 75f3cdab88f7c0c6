"""Start a script under ``mpirun`` for the distributed tests (skips without Open MPI)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mpirun(script, *args, n=2, timeout=120, env=None, check=True):
    """Run ``script`` on ``n`` ranks; returns the CompletedProcess (stdout+stderr text)."""
    pytest.importorskip("mpi4py")
    launcher = shutil.which("mpirun")
    if launcher is None:
        pytest.skip("mpirun not found: pip install 'nabla[distributed]'")
    full_env = dict(os.environ, **(env or {}))
    # CI runs as root; Open MPI refuses root unless told both of these.
    full_env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                    OMPI_MCA_rmaps_base_oversubscribe="1")
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT)] + [p for p in [full_env.get("PYTHONPATH")] if p])
    cmd = [launcher, "-n", str(n), "--oversubscribe", sys.executable, str(script), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}")
    proc.output = out
    return proc
