"""nabla's LSTM against PyTorch's: one training step of a row-by-row MNIST classifier.

The model and data are the suite's case 5 (``cases/spatial.py``): LSTM(28 -> 128) over
the 28 rows of a 28x28 image (batch 64, batch_first), Linear(128, 10) on the last hidden
state, cross-entropy, backward, SGD step; float32. The harness (subprocesses,
alternation, the loss check) is ``pair.py``'s; this script adds the choice of OpenBLAS's
kernels for nabla's run.

    python benchmarks/bench_lstm.py             # timed run
    python benchmarks/bench_lstm.py --quick     # a few steps each, a CI smoke test
    python benchmarks/bench_lstm.py --threads 1 --clock cpu   # steady on a busy machine
    python benchmarks/bench_lstm.py --openblas-coretype SkylakeX  # see --help

Where a step goes (Intel Xeon AVX-512, OpenBLAS SkylakeX kernels, one thread, CPU time,
ms per step; measured on a shared 2-core machine). nabla, 10.0 in all: forward 3.5 (27
per-step products (512x128)@(128x64) 1.8, the input projection 0.4, NumPy gate passes
0.9, copies 0.3); backward 6.0 (weight-gradient product over all steps 2.2, 27 per-step
products 1.7, backward multipliers 0.8, per-step passes and copies 1.2); the rest 0.5.
PyTorch 2.13, 7.6-8.4 in all, runs the layer as ONE oneDNN primitive per pass
(``aten::mkldnn_rnn_layer``: forward 2.6, backward 5.3), gate arithmetic fused into its
compiled kernel, products at MKL's rate. The same products alone: OpenBLAS 116-133
GFLOP/s, PyTorch's MKL 147-178 (1.2-1.35x), so the products alone leave nabla ~1.5 ms
behind, and NumPy's separate passes (one call and one trip through memory each) the rest.
"""

from __future__ import annotations

import pair
from cases import openblas_core, spatial

OPTIONS = [(("--openblas-coretype",), {
    "default": "",
    "help": "OPENBLAS_CORETYPE for nabla's run (e.g. SkylakeX): OpenBLAS 0.3.31 falls "
            "back to its AVX2 'Haswell' kernels on CPUs it does not know"})]


def make_step(lib, args):
    step = spatial.lstm(lib).step
    return lambda: step().item()


def worker_env(lib, args):
    if lib == "nabla" and args.openblas_coretype:
        return {"OPENBLAS_CORETYPE": args.openblas_coretype}
    return {}


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read()
    except OSError:
        return False


def report_kernels(args, results):
    core = results["nabla"].get("blas_core")
    print(f"nabla's OpenBLAS kernels: {core or 'unknown'}"
          + (f" (OPENBLAS_CORETYPE={args.openblas_coretype})" if args.openblas_coretype else ""))
    if core in ("Haswell", "Zen") and cpu_has_avx512():
        print("  note: this CPU has AVX-512 but OpenBLAS chose AVX2 kernels; matrix products "
              "run ~1.8x faster with --openblas-coretype SkylakeX")


if __name__ == "__main__":
    T, H = spatial.T, spatial.H
    pair.main(__doc__, f"LSTM({spatial.I}->{H}) x {T} steps + Linear({H},{spatial.C})",
              spatial.BATCH, make_step, OPTIONS, env=worker_env,
              info=lambda lib: {"blas_core": openblas_core()} if lib == "nabla" else {},
              after=report_kernels)
