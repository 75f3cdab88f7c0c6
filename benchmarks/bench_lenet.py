"""nabla's LeNet-5 against PyTorch's: one training step at batch 64 on 28x28 inputs.

conv 1->6 5x5 pad 2, ReLU, maxpool 2; conv 6->16 5x5, ReLU, maxpool 2; flatten;
400->120->84->10 with ReLUs; cross-entropy; backward; SGD step; float32. Both start
from the same weights and see the same batch, so they must report the same losses,
or the timing is void.

Each library runs in its own subprocess: two BLAS thread pools in one process fight
over the cores. Each takes the best of several timed repeats (other work on the
machine only ever makes a run slower), and the two alternate over several rounds so
that a burst of load hits both alike. Threads: each library's default (all cores)
unless ``--threads`` says otherwise, applied to both. CPU time per step (summed over
threads) is printed too: on a busy machine it is steadier than wall time.

    python benchmarks/bench_lenet.py             # timed run
    python benchmarks/bench_lenet.py --quick     # a few steps each, a CI smoke test
    python benchmarks/bench_lenet.py --profile   # cProfile of nabla's step, by cumtime
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

BATCH, LR = 64, 0.05
SHAPES = {
    "0.weight": (6, 1, 5, 5), "0.bias": (6,), "3.weight": (16, 6, 5, 5), "3.bias": (16,),
    "7.weight": (120, 400), "7.bias": (120,), "9.weight": (84, 120), "9.bias": (84,),
    "11.weight": (10, 84), "11.bias": (10,),
}


def make_problem(seed=0):
    """Weights (PyTorch's names and layouts, default-init bounds), a batch, labels."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in SHAPES.items():
        w = name.replace("bias", "weight")
        fan_in = int(np.prod(SHAPES[w][1:]))
        bound = 1 / np.sqrt(fan_in)
        weights[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    return weights, x, y


def nabla_lenet():
    from nabla import nn
    from nabla.nn.layers.conv import Conv2d
    from nabla.nn.layers.pooling import MaxPool2d

    return nn.Sequential(
        Conv2d(1, 6, 5, padding=2), nn.ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5), nn.ReLU(), MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def nabla_step():
    import nabla
    from nabla.nn import functional as F
    from nabla.optim import SGD

    weights, x, y = make_problem()
    model = nabla_lenet()
    model.load_state_dict(weights)
    opt = SGD(model.parameters(), lr=LR)
    xt, yt = nabla.tensor(x), nabla.tensor(y)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def torch_step(threads):
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    weights, x, y = make_problem()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def measure(step, steps, warmup, repeats):
    """Losses of the first ``warmup`` steps (compared across libraries), then the best
    mean step time over ``repeats`` runs of ``steps`` steps."""
    losses = [step() for _ in range(warmup)]
    best = best_cpu = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - t0) / steps)
        best_cpu = min(best_cpu, (time.process_time() - c0) / steps)
    return {"losses": losses, "step_s": best, "cpu_s": best_cpu}


def worker(args):
    step = nabla_step() if args.worker == "nabla" else torch_step(args.threads)
    print(json.dumps(measure(step, args.steps, args.warmup, args.repeats)))


def spawn(lib, args):
    env = dict(os.environ)
    if args.threads:
        # Set before either library loads its BLAS/OpenMP runtime.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--worker", lib, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def profile(steps):
    import cProfile
    import pstats

    step = nabla_step()
    for _ in range(5):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("cumtime").print_stats(30)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few steps each (CI smoke test)")
    p.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats; the best counts")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps, losses compared")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternate the two subprocesses this many times; best of all")
    p.add_argument("--threads", type=int, default=0, help="BLAS/OpenMP threads (0: default)")
    p.add_argument("--profile", action="store_true", help="cProfile nabla's step instead")
    p.add_argument("--worker", choices=["nabla", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats, args.warmup, args.rounds = 2, 1, 2, 1
    if args.worker:
        return worker(args)
    if args.profile:
        return profile(args.steps * args.repeats)
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("PyTorch is not installed: nothing to compare against")

    best = {"nabla": float("inf"), "torch": float("inf")}
    cpu = dict(best)
    losses = {}
    for _ in range(args.rounds):
        for lib in ("nabla", "torch"):
            res = spawn(lib, args)
            best[lib] = min(best[lib], res["step_s"])
            cpu[lib] = min(cpu[lib], res["cpu_s"])
            losses[lib] = res["losses"]
    if not np.allclose(losses["nabla"], losses["torch"], rtol=1e-4, atol=1e-5):
        sys.exit(f"losses differ, timing void:\n nabla {losses['nabla']}\n torch "
                 f"{losses['torch']}")
    threads = args.threads or f"default ({os.cpu_count()} cores)"
    print(f"LeNet-5 training step, batch {BATCH}, 1x28x28, float32, threads: {threads}")
    print(f"losses agree over {args.warmup} steps: {losses['nabla'][-1]:.6f} (last)")
    for lib in ("nabla", "torch"):
        print(f"{lib:6s} {best[lib] * 1e3:8.3f} ms/step  {BATCH / best[lib]:9.0f} samples/s"
              f"   (CPU {cpu[lib] * 1e3:.3f} ms/step, all threads)")
    print(f"ratio nabla/torch (throughput): {best['torch'] / best['nabla']:.2f}x")


if __name__ == "__main__":
    main()
