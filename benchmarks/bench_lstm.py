"""nabla's LSTM against PyTorch's: one training step of a row-by-row MNIST classifier.

LSTM(28 -> 128) over the 28 rows of a 28x28 image (batch 64, batch_first), Linear(128,
10) on the last hidden state, cross-entropy, backward, SGD step; float32. Both start
from the same weights and see the same batch, so they must report the same losses,
or the timing is void.

Each library runs in its own subprocess: two BLAS thread pools in one process fight
over the cores. Each takes the best of several timed repeats, since other work on the
machine only ever makes a run slower. Threads: each library's default (all cores)
unless ``--threads`` says otherwise, applied to both.

    python benchmarks/bench_lstm.py             # timed run
    python benchmarks/bench_lstm.py --quick     # a few steps each, a CI smoke test
    python benchmarks/bench_lstm.py --threads 1 --clock cpu   # steady on a busy machine
    python benchmarks/bench_lstm.py --openblas-coretype SkylakeX  # see --help
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

T, I, H, C, BATCH = 28, 28, 128, 10, 64
LR = 0.05


def make_problem(seed=0):
    """Weights (PyTorch's names and layouts), one batch of inputs and labels."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)

    def u(*shape, bound=k):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    weights = {
        "lstm.weight_ih_l0": u(4 * H, I), "lstm.weight_hh_l0": u(4 * H, H),
        "lstm.bias_ih_l0": u(4 * H), "lstm.bias_hh_l0": u(4 * H),
        "fc.weight": u(C, H), "fc.bias": u(C),
    }
    x = rng.random((BATCH, T, I), dtype=np.float32)
    y = rng.integers(0, C, BATCH)
    return weights, x, y


def run_nabla(steps, warmup, repeats):
    import nabla
    from nabla import nn
    from nabla.nn import functional as F
    from nabla.nn.layers.recurrent import LSTM
    from nabla.optim import SGD

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = LSTM(I, H, batch_first=True)
            self.fc = nn.Linear(H, C)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return self.fc(h_n[-1])

    weights, x, y = make_problem()
    model = Net()
    model.load_state_dict(weights)
    opt = SGD(model.parameters(), lr=LR)
    xt, yt = nabla.tensor(x), nabla.tensor(y)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return measure(step, steps, warmup, repeats)


def run_torch(steps, warmup, repeats, threads):
    import torch

    if threads:
        torch.set_num_threads(threads)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(I, H, batch_first=True)
            self.fc = torch.nn.Linear(H, C)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return self.fc(h_n[-1])

    weights, x, y = make_problem()
    model = Net()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return measure(step, steps, warmup, repeats)


CLOCK = time.perf_counter


def measure(step, steps, warmup, repeats):
    """Losses of the first ``warmup`` steps (compared across libraries), then the best
    mean step time over ``repeats`` runs of ``steps`` steps."""
    losses = [step() for _ in range(warmup)]
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = CLOCK()
        for _ in range(steps):
            step()
        best = min(best, (CLOCK() - t0) / steps)
    return {"losses": losses, "step_s": best}


def openblas_core():
    """The kernel family OpenBLAS picked at load time (None if NumPy uses another BLAS)."""
    import ctypes

    import numpy  # noqa: F401  (loads the BLAS)

    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return None
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read()
    except OSError:
        return False


def worker(args):
    global CLOCK
    if args.clock == "cpu":
        CLOCK = time.process_time
    if args.worker == "nabla":
        res = run_nabla(args.steps, args.warmup, args.repeats)
        res["blas_core"] = openblas_core()
    else:
        res = run_torch(args.steps, args.warmup, args.repeats, args.threads)
    print(json.dumps(res))


def spawn(lib, args):
    env = dict(os.environ)
    if lib == "nabla" and args.openblas_coretype:
        env["OPENBLAS_CORETYPE"] = args.openblas_coretype
    if args.threads:
        # Set before either library loads its BLAS/OpenMP runtime.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--worker", lib, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--clock", args.clock]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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
    p.add_argument("--openblas-coretype", default="",
                   help="OPENBLAS_CORETYPE for nabla's run (e.g. SkylakeX): OpenBLAS 0.3.31 "
                        "falls back to its AVX2 'Haswell' kernels on CPUs it does not know")
    p.add_argument("--worker", choices=["nabla", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats, args.warmup, args.rounds = 2, 1, 2, 1
    if args.worker:
        return worker(args)
    if args.clock == "cpu" and args.threads != 1:
        sys.exit("--clock cpu needs --threads 1 (CPU time sums over threads)")
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("PyTorch is not installed: nothing to compare against")

    best = {"nabla": float("inf"), "torch": float("inf")}
    losses = {}
    core = None
    for _ in range(args.rounds):  # alternate, so a burst of load hits both alike
        for lib in ("nabla", "torch"):
            res = spawn(lib, args)
            best[lib] = min(best[lib], res["step_s"])
            losses[lib] = res["losses"]
            core = res.get("blas_core", core)
    if not np.allclose(losses["nabla"], losses["torch"], rtol=1e-4, atol=1e-5):
        sys.exit(f"losses differ, timing void:\n nabla {losses['nabla']}\n torch "
                 f"{losses['torch']}")
    threads = args.threads or f"default ({os.cpu_count()} cores)"
    print(f"LSTM({I}->{H}) x {T} steps + Linear({H},{C}), batch {BATCH}, float32, "
          f"threads: {threads}, clock: {args.clock}")
    print(f"losses agree over {args.warmup} steps: {losses['nabla'][-1]:.6f} (last)")
    for lib in ("nabla", "torch"):
        print(f"{lib:6s} {best[lib] * 1e3:8.3f} ms/step  {BATCH / best[lib]:9.0f} samples/s")
    print(f"ratio nabla/torch (throughput): {best['torch'] / best['nabla']:.2f}x")
    print(f"nabla's OpenBLAS kernels: {core or 'unknown'}"
          + (f" (OPENBLAS_CORETYPE={args.openblas_coretype})" if args.openblas_coretype else ""))
    if core in ("Haswell", "Zen") and cpu_has_avx512():
        print("  note: this CPU has AVX-512 but OpenBLAS chose AVX2 kernels; matrix products "
              "run ~1.8x faster with --openblas-coretype SkylakeX")


if __name__ == "__main__":
    main()
