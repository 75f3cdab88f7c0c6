"""The benchmark suite's program-shaped cases (8-13) in its quick mode: a smoke test.

They run as the suite runs them (one worker process per library), a step or two each;
no timing is asserted, only that every case runs in both libraries, that the two agree
on the numbers they must agree on, and that the table reports each worker's peak memory.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_program_cases_run_quick_and_agree():
    pytest.importorskip("torch")
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "suite.py"), "--quick", "--quiet",
         "--cases", "8,9,10,11,12,13"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "losses differ" not in out.stdout
    for cid in ("8", "9", "10", "11", "12", "13"):
        row = next(line for line in out.stdout.splitlines() if line.startswith(f"| {cid} |"))
        cells = [c.strip() for c in row.split("|")]
        # nabla's and the peer's peak MiB (columns 9 and 10) are numbers for every case
        assert float(cells[8]) > 0 and float(cells[9]) > 0, row
