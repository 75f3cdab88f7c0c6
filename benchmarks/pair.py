"""The harness of the two-library scripts, ``bench_lenet.py`` and ``bench_lstm.py``.

Each library's training step runs in its own subprocess, since two BLAS thread pools in
one process fight over the cores. The two alternate over several rounds, so that a
burst of load hits both alike, and each keeps its best timed repeat: other work on the
machine only ever makes a run slower. Both start from the same weights and see the same
batch, so the losses of their first steps must agree, or the timing is void. Threads:
each library's default (all cores) unless ``--threads`` says otherwise, applied to
both. CPU time per step (summed over threads) is printed too: on a busy machine it is
steadier than wall time.
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

LIBS = ("nabla", "torch")


def measure(step, steps, warmup, repeats, clock=time.perf_counter):
    """Losses of the first ``warmup`` steps (compared across libraries), then the best
    mean step time over ``repeats`` runs of ``steps`` steps, by ``clock`` and in CPU
    time."""
    losses = [step() for _ in range(warmup)]
    best = best_cpu = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0, c0 = clock(), time.process_time()
        for _ in range(steps):
            step()
        best = min(best, (clock() - t0) / steps)
        best_cpu = min(best_cpu, (time.process_time() - c0) / steps)
    return {"losses": losses, "step_s": best, "cpu_s": best_cpu}


def _parser(doc, options):
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few steps each (CI smoke test)")
    p.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats; the best counts")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps, losses compared")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternate the two subprocesses this many times; best of all")
    p.add_argument("--threads", type=int, default=0, help="BLAS/OpenMP threads (0: default)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: the process's CPU time, steadier than wall time on a busy "
                        "machine (needs --threads 1, else it sums the threads)")
    p.add_argument("--profile", action="store_true", help="cProfile nabla's step instead")
    p.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    for flags, kwargs in options:
        p.add_argument(*flags, **kwargs)
    return p


def _spawn(lib, env):
    """Run this script again as ``lib``'s worker, with the same options."""
    env = dict(os.environ, **env)
    cmd = [sys.executable, sys.argv[0], *sys.argv[1:], "--worker", lib]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _profile(step, steps):
    import cProfile
    import pstats

    for _ in range(5):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("cumtime").print_stats(30)


def main(doc, title, batch, make_step, options=(), env=None, info=None, after=None):
    """Parse the command line and compare the two libraries' steps.

    ``make_step(lib, args)`` builds a step that returns its loss as a float; ``options``
    holds the script's own ``(flags, add_argument kwargs)``; ``env(lib, args)`` gives
    extra environment variables for a worker, ``info(lib)`` extra fields of its result,
    and ``after(args, results)`` prints what the script adds to the report.
    """
    args = _parser(doc, options).parse_args()
    if args.quick:
        args.steps, args.repeats, args.warmup, args.rounds = 2, 1, 2, 1
    if args.worker:
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        res = measure(make_step(args.worker, args), args.steps, args.warmup, args.repeats,
                      clock)
        res.update(info(args.worker) if info else {})
        print(json.dumps(res))
        return
    if args.profile:
        return _profile(make_step("nabla", args), args.steps * args.repeats)
    if args.clock == "cpu" and args.threads != 1:
        sys.exit("--clock cpu needs --threads 1 (CPU time sums over threads)")
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("PyTorch is not installed: nothing to compare against")

    results = {}
    best = {lib: float("inf") for lib in LIBS}
    cpu = dict(best)
    for _ in range(args.rounds):
        for lib in LIBS:
            worker_env = dict(env(lib, args) if env else {})
            if args.threads:
                # Set before either library loads its BLAS/OpenMP runtime.
                for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                    worker_env[var] = str(args.threads)
            res = results[lib] = _spawn(lib, worker_env)
            best[lib] = min(best[lib], res["step_s"])
            cpu[lib] = min(cpu[lib], res["cpu_s"])
    losses = {lib: results[lib]["losses"] for lib in LIBS}
    if not np.allclose(losses["nabla"], losses["torch"], rtol=1e-4, atol=1e-5):
        sys.exit(f"losses differ, timing void:\n nabla {losses['nabla']}\n torch "
                 f"{losses['torch']}")
    threads = args.threads or f"default ({os.cpu_count()} cores)"
    print(f"{title}, batch {batch}, float32, threads: {threads}, clock: {args.clock}")
    print(f"losses agree over {args.warmup} steps: {losses['nabla'][-1]:.6f} (last)")
    for lib in LIBS:
        print(f"{lib:6s} {best[lib] * 1e3:8.3f} ms/step  {batch / best[lib]:9.0f} samples/s"
              f"   (CPU {cpu[lib] * 1e3:.3f} ms/step, all threads)")
    print(f"ratio nabla/torch (throughput): {best['torch'] / best['nabla']:.2f}x")
    if after:
        after(args, results)
