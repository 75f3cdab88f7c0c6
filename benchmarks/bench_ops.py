"""Per-op overhead of nabla against PyTorch on small tensors.

On 8x8 tensors the arithmetic is nothing; what is measured is what every op costs on
top of it: building the result, recording the graph node, and walking it backward.
Each workload runs in both libraries from the same NumPy inputs; the table prints the
time per op and the ratio torch_time / nabla_time (above 1: nabla is faster).

Each library runs in its own subprocess: two thread pools (NumPy's BLAS and PyTorch's)
in one process fight over the cores and spoil both timings. Every number is the best
of several repeats, which is the least noisy estimate on a busy machine. The workers
also return a checksum of one forward+backward pass; the two must agree, or the
timings compare different computations and are void.

    python benchmarks/bench_ops.py            # timed run
    python benchmarks/bench_ops.py --quick    # tiny run, a CI smoke test
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZE = 8


def _inputs():
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal((SIZE, SIZE)).astype(np.float32) * 0.3 for k in "xyw"} | {
        "b": rng.standard_normal(SIZE).astype(np.float32) * 0.1
    }


def workloads(lib, n):
    """name -> (function running ``n`` ops once, ops per call). ``lib`` is nabla or torch."""
    arr = _inputs()

    def leaf(name):
        return lib.tensor(arr[name], requires_grad=True)

    x, y, w, b = leaf("x"), leaf("y"), leaf("w"), leaf("b")
    xc, yc, wc, bc = (lib.tensor(arr[k]) for k in "xywb")  # constants: no graph at all
    linear = lib.nn.functional.linear if lib.__name__ == "torch" else lib.linear

    def fwd(op):
        def run():
            for _ in range(n):
                op()

        return run

    def chain(step):
        # n ops recorded in one graph, then one backward through all of them
        def run():
            h = x
            for _ in range(n):
                h = step(h)
            h.sum().backward()

        return run

    def many_backward():
        for _ in range(n):
            x.sum().backward()

    def mlp():
        for _ in range(n):
            h = linear(x, w, b).relu()
            (linear(h, w, b) * y).sum().backward()

    return {
        "add (no grad)": (fwd(lambda: xc + yc), n),
        "mul (no grad)": (fwd(lambda: xc * yc), n),
        "matmul (no grad)": (fwd(lambda: xc @ wc), n),
        "relu (no grad)": (fwd(lambda: xc.relu()), n),
        "sum (no grad)": (fwd(lambda: xc.sum()), n),
        "linear (no grad)": (fwd(lambda: linear(xc, wc, bc)), n),
        "add chain, fwd+bwd": (chain(lambda h: h + y), n + 1),
        "mul chain, fwd+bwd": (chain(lambda h: h * y), n + 1),
        "matmul chain, fwd+bwd": (chain(lambda h: h @ w), n + 1),
        "relu chain, fwd+bwd": (chain(lambda h: h.relu()), n + 1),
        "linear chain, fwd+bwd": (chain(lambda h: linear(h, w, b)), n + 1),
        "sum().backward()": (many_backward, n),
        "MLP step (5 ops), fwd+bwd": (mlp, 5 * n),
    }


def checksum(lib):
    """One forward+backward pass whose result both libraries must agree on."""
    arr = _inputs()
    x, w, y = (lib.tensor(arr[k], requires_grad=True) for k in "xwy")
    b = lib.tensor(arr["b"], requires_grad=True)
    h = (x @ w.T + b).relu()
    loss = ((h @ w) * y).sum() + (h + y).relu().sum()
    loss.backward()
    return [float(loss.item())] + [float(t.grad.sum().item()) for t in (x, w, y, b)]


def worker(name, n, repeats):
    if name == "torch":
        import torch as lib
    else:
        import nabla as lib
    result = {"checksum": checksum(lib), "per_op": {}}
    for label, (run, ops) in workloads(lib, n).items():
        run()  # warm up: first calls pay for imports and caches
        best = float("inf")
        gc.collect()
        gc.disable()  # a collection in the middle of one repeat is noise, not overhead
        try:
            for _ in range(repeats):
                t0 = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
        result["per_op"][label] = best / ops
    print(json.dumps(result))


def run_worker(name, n, repeats):
    cmd = [sys.executable, __file__, "--worker", name, "-n", str(n), "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if out.returncode != 0:
        if name == "torch" and "No module named 'torch'" in out.stderr:
            return None
        raise RuntimeError(f"{name} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best(acc, new):
    if acc is None or new is None:
        return new
    for k, v in new["per_op"].items():
        acc["per_op"][k] = min(acc["per_op"][k], v)
    return acc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few iterations, for CI")
    p.add_argument("-n", type=int, default=200, help="ops per timed call")
    p.add_argument("--repeats", type=int, default=15, help="best of this many")
    p.add_argument("--rounds", type=int, default=3, help="alternating worker runs")
    p.add_argument("--worker", choices=["nabla", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.repeats, args.rounds = 5, 2, 1
    if args.worker:
        worker(args.worker, args.n, args.repeats)
        return
    # Alternate the two workers over several rounds and keep each workload's best:
    # a burst of load from elsewhere then hits both libraries, not just one.
    nab = tor = None
    for _ in range(args.rounds):
        nab = _best(nab, run_worker("nabla", args.n, args.repeats))
        tor = _best(tor, run_worker("torch", args.n, args.repeats))
    if tor is not None and not np.allclose(nab["checksum"], tor["checksum"], rtol=1e-4):
        raise SystemExit(f"results differ: nabla {nab['checksum']} torch {tor['checksum']}")
    print(f"per-op time on {SIZE}x{SIZE} float32, best of {args.repeats} x {args.rounds} "
          f"(ratio = torch / nabla, > 1: nabla faster)")
    print(f"{'workload':<28} {'nabla us/op':>12} {'torch us/op':>12} {'ratio':>7}")
    for label, t_n in nab["per_op"].items():
        if tor is None:
            print(f"{label:<28} {t_n * 1e6:>12.2f} {'n/a':>12} {'n/a':>7}")
            continue
        t_t = tor["per_op"][label]
        print(f"{label:<28} {t_n * 1e6:>12.2f} {t_t * 1e6:>12.2f} {t_t / t_n:>7.2f}")
    if tor is None:
        print("torch is not installed: no ratios")


if __name__ == "__main__":
    main()
