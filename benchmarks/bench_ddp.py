"""Data-parallel training: nabla's DDP over Open MPI against PyTorch's DDP over gloo.

    python benchmarks/bench_ddp.py            # both cases, 2 ranks
    python benchmarks/bench_ddp.py --quick    # tiny counts: a smoke run

Both libraries are started the same way, by ``mpirun -n 2`` on this machine (PyTorch
reads its rank from Open MPI's environment and meets on a loopback TCP port). Each rank
warms up, then times windows of steps and keeps the best; the job's figure is the
slowest rank's best (a synchronous step is as fast as its slowest rank).

- Case D1: MLP 784-128-64-10, ReLU, cross-entropy, SGD, batch 64 per rank: samples/s
  of the 2-rank job for each library, and the ratio nabla / PyTorch.
- Case D2: MLP 784-1024-1024-10, batch 256 per rank, nabla only: the scaling
  efficiency of 2 ranks over 1 (throughput(2) / (2 x throughput(1))) and the share of
  a step that the gradient allreduce takes (timed on its own, same buffers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"D1": ([784, 128, 64, 10], 64), "D2": ([784, 1024, 1024, 10], 256)}


def _rank_env():
    return int(os.environ.get("OMPI_COMM_WORLD_RANK", 0)), int(
        os.environ.get("OMPI_COMM_WORLD_SIZE", 1))


def _data(batch, sizes, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, sizes[0])).astype(np.float32),
            rng.integers(0, sizes[-1], batch))


def _time(step, steps, windows):
    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(windows):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - t) / steps)
    return best


def worker_nabla(case, steps, windows):
    import nabla
    import nabla.distributed as dist
    from nabla import nn, optim
    from nabla.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    sizes, batch = SIZES[case]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = DDP(nn.Sequential(*layers[:-1])) if world > 1 else nn.Sequential(*layers[:-1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data(batch, sizes, rank)
    x, y = nabla.tensor(x), nabla.tensor(y)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    best = _time(step, steps, windows)
    result = {"step_s": best}
    if world > 1:
        from nabla.distributed import collectives as c

        bufs = [b.buffer for b in model._buckets]

        def reduce_only():
            works = [c._allreduce_array(c._comm(), b, c._mpi().SUM, True, True) for b in bufs]
            for w in works:
                w.wait()

        result["allreduce_s"] = _time(reduce_only, steps, windows)
    return result


def worker_torch(case, steps, windows):
    import torch
    import torch.distributed as dist
    from torch import nn

    rank, world = _rank_env()
    torch.set_num_threads(1 if world > 1 else max(1, os.cpu_count() // 2))
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['BENCH_PORT']}",
                            rank=rank, world_size=world)
    sizes, batch = SIZES[case]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.parallel.DistributedDataParallel(nn.Sequential(*layers[:-1]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data(batch, sizes, rank)
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return {"step_s": _time(step, steps, windows)}


def _launch(lib, case, n, steps, windows):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               BENCH_PORT=str(29500 + os.getpid() % 1000), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "..", "src"),
                                         env.get("PYTHONPATH", "")])
    cmd = [shutil.which("mpirun"), "-n", str(n), "--oversubscribe", sys.executable, __file__,
           "--worker", lib, case, str(steps), str(windows)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode:
        raise SystemExit(f"{lib} {case} on {n} ranks failed:\n{out.stdout}{out.stderr}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {k: max(r[k] for r in rows) for k in rows[0]}  # the slowest rank's best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", nargs=4, metavar=("LIB", "CASE", "STEPS", "WINDOWS"))
    args = ap.parse_args()
    if args.worker:
        lib, case, steps, windows = args.worker
        fn = worker_nabla if lib == "nabla" else worker_torch
        print(json.dumps(fn(case, int(steps), int(windows))), flush=True)
        return
    steps, windows = (5, 2) if args.quick else (30, 8)
    import platform

    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          "2 ranks, one BLAS thread each")
    _, batch = SIZES["D1"]
    ours = _launch("nabla", "D1", 2, steps, windows)
    theirs = _launch("torch", "D1", 2, steps, windows)
    sps = [2 * batch / r["step_s"] for r in (ours, theirs)]
    print(f"D1 MLP 784-128-64-10, batch {batch}/rank, 2 ranks: nabla {sps[0]:,.0f} samples/s,"
          f" PyTorch DDP (gloo) {sps[1]:,.0f} samples/s, ratio {sps[0] / sps[1]:.2f}x")
    _, batch = SIZES["D2"]
    one = _launch("nabla", "D2", 1, steps, windows)
    two = _launch("nabla", "D2", 2, steps, windows)
    eff = (2 * batch / two["step_s"]) / (2 * batch / one["step_s"])
    print(f"D2 MLP 784-1024-1024-10, batch {batch}/rank: 1 rank {batch / one['step_s']:,.0f} "
          f"samples/s, 2 ranks {2 * batch / two['step_s']:,.0f} samples/s, scaling efficiency"
          f" {eff:.0%}; the allreduce alone takes {two['allreduce_s'] * 1e3:.2f} ms of a "
          f"{two['step_s'] * 1e3:.2f} ms step ({two['allreduce_s'] / two['step_s']:.0%})")


if __name__ == "__main__":
    main()
