"""How much of a nabla training step is matrix products, next to PyTorch's whole step.

For the LeNet-5 and LSTM cases of ``suite.py``, nabla's step is timed as it is and with
the matrix products of its convolution and recurrent kernels skipped (``np.matmul`` in
``nabla.ops.conv`` and ``nabla.ops.recurrent`` replaced by a stub that leaves its output
as it was), alternating in one process. The difference is what those products cost in
context, caches and thread wake-ups included. PyTorch's step is timed in its own
process in the same run. When the products alone come near PyTorch's whole step, no
rework of the rest can reach the target: the BLAS kernels bound it.

The stubbed steps compute garbage; only their time means anything. The fully connected
layers' products (``@`` in ``nabla.ops.linalg``) are not stubbed: they stay in the
"everything else" column, a small share in both cases.

    python benchmarks/gemm_share.py            # cases 4 and 5
    python benchmarks/gemm_share.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import suite  # noqa: E402
from cases import spatial  # noqa: E402

CASES = {"4": ("lenet", "nabla.ops.conv"), "5": ("lstm", "nabla.ops.recurrent")}


class _NoMatmul:
    """Stands in for the ``np`` module of a kernel file: everything is NumPy's, except
    that ``matmul`` computes nothing (it returns ``out``, or an empty array of the
    product's shape)."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def matmul(a, b, out=None):
        if out is not None:
            return out
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        return np.empty(shape, np.result_type(a, b))


def _window(step, steps):
    """The mean time of ``steps`` calls of ``step``."""
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def nabla_share(case_id: str, steps: int, rounds: int) -> dict:
    """nabla's best step time with and without the kernels' matrix products."""
    import importlib

    name, module = CASES[case_id]
    kernels = importlib.import_module(module)
    work = getattr(spatial, name)("nabla")
    for _ in range(5):
        work.step()
    best = {"full": float("inf"), "no_matmul": float("inf")}
    try:
        for _ in range(rounds):
            for mode in best:
                kernels.np = np if mode == "full" else _NoMatmul()
                work.step()  # one untimed step after each switch
                best[mode] = min(best[mode], _window(work.step, steps))
    finally:
        kernels.np = np
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="4,5")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--worker", metavar="CASE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    steps, rounds = (1, 1) if args.quick else (20, 10)
    if args.worker:
        print(json.dumps(nabla_share(args.worker, steps, rounds)))
        return
    print("| case | nabla step | nabla without the kernels' products | the products | "
          "PyTorch step | products / PyTorch step |")
    print("|---|---:|---:|---:|---:|---:|")
    for case_id in args.cases.split(","):
        # One library per process, as in suite.py; PyTorch's step through suite's worker.
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", case_id]
                             + (["--quick"] if args.quick else []),
                             capture_output=True, text=True, check=True)
        nab = json.loads(out.stdout.strip().splitlines()[-1])
        peer = suite.spawn(case_id, "torch", "default", steps, rounds, 5, None,
                           0.0 if args.quick else 2.0)["step_s"]
        full, rest = nab["full"], nab["no_matmul"]
        products = max(full - rest, 0.0)
        print(f"| {case_id} {CASES[case_id][0]} | {full * 1e3:.2f} ms | {rest * 1e3:.2f} ms | "
              f"{products * 1e3:.2f} ms | {peer * 1e3:.2f} ms | {products / peer:.2f} |")


if __name__ == "__main__":
    main()
