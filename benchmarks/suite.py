"""nabla against PyTorch on the CPU, side by side: the one benchmark command.

    python benchmarks/suite.py                 # every case; writes benchmarks/RESULTS.md
    python benchmarks/suite.py --cases 1,2     # some cases
    python benchmarks/suite.py --quick         # tiny counts, a CI smoke run (writes nothing)

Each training case runs the same model, weights, batches, batch size and optimizer in
nabla and in its peer (PyTorch; for the scalar engine a micrograd-style reference), ONE
LIBRARY PER PROCESS: two BLAS thread pools in one process fight over the cores. Worker
processes alternate between the libraries over several rounds, and each round runs
every library under two allocator settings: glibc's defaults, and a tuned one that keeps
freed memory instead of handing large blocks back to the OS (``MALLOC_MMAP_THRESHOLD_``
and ``MALLOC_TRIM_THRESHOLD_``, see ``TUNED``). A worker warms up, then times many short
windows of a few steps and keeps the best window's mean step time; each library keeps
its best worker. Other
load on the machine only ever makes a run slower, so the best is the least noisy
estimate; the spread column says how far the median worker was from it.

The first losses of both libraries must agree (same weights, same batches; where a step
draws random numbers, the numbers its ``reference`` gives), or the table says so: the
timing would compare different computations. Peak memory is the worker's own
``ru_maxrss`` (library, model and data, after the timed steps).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cases import openblas_core, registry  # noqa: E402

# The tuned allocator: blocks up to 256 MiB come from the heap instead of fresh mmap()s,
# and the heap top is only trimmed beyond 512 MiB, so a step's temporaries reuse pages
# that are already mapped instead of page-faulting fresh ones every step.
TUNED = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(512 << 20)}
ALLOCATORS = {"default": {}, "tuned": TUNED}
WARMUP = 5  # untimed steps; their losses are compared across libraries


# ------------------------------------------------------------------------- worker side
def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(case_id: str, lib: str, steps: int, repeats: int, warmup: int,
           budget: float) -> dict:
    case = registry()[case_id]
    work = case.build(lib)
    if work.reference is not None:
        losses = work.reference()
        for _ in range(warmup):
            work.step()
    else:
        losses = [work.step().item() for _ in range(warmup)]
    # Many short windows rather than a few long ones: on a busy machine the best short
    # window is the one that ran undisturbed. At least 3 windows, then until the time
    # budget or ``repeats`` windows are spent.
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() - start < budget):
        gc.collect()  # start each window alike; collections inside it are part of the cost
        t0 = time.perf_counter()
        for _ in range(steps):
            work.step()
        times.append((time.perf_counter() - t0) / steps)
    result = {"losses": losses, "step_s": min(times), "times": times, "batch": work.batch,
              "flops": work.flops, "maxrss_mib": _maxrss_mib(), **work.info}
    if lib == "torch":
        import torch

        result["threads"] = torch.get_num_threads()
        result["version"] = torch.__version__
    return result


# ------------------------------------------------------------------------- parent side
def spawn(case_id, lib, alloc, steps, repeats, warmup, threads, budget):
    env = dict(os.environ, **ALLOCATORS[alloc])
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", case_id, lib,
           "--steps", str(steps), "--repeats", str(repeats), "--warmup", str(warmup),
           "--budget", str(budget)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise SystemExit(f"case {case_id}: the {lib} worker failed:\n{out.stderr}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["alloc"] = alloc
    return res


def run_case(case, args) -> dict:
    steps = case.quick_steps if args.quick else case.steps
    repeats = 1 if args.quick else args.repeats
    budget = 0.0 if args.quick else args.budget
    warmup = 2 if args.quick else WARMUP
    allocs = ["default"] if args.quick else list(ALLOCATORS)
    runs = {lib: [] for lib in case.libs}
    for r in range(args.rounds):
        # Alternate the order too, so that neither library always runs first.
        order = case.libs if r % 2 == 0 else case.libs[::-1]
        for alloc in allocs:
            for lib in order:
                runs[lib].append(spawn(case.id, lib, alloc, steps, repeats, warmup,
                                       args.threads, budget))
                if not args.quiet:
                    res = runs[lib][-1]
                    print(f"  case {case.id} {lib:9s} {alloc:7s} "
                          f"{res['batch'] / res['step_s']:12.0f} samples/s", flush=True)
    best = {lib: min(rs, key=lambda res: res["step_s"]) for lib, rs in runs.items()}
    summary = {}
    for lib, rs in runs.items():
        b = best[lib]
        med = statistics.median(res["step_s"] for res in rs)
        summary[lib] = {
            "samples_s": b["batch"] / b["step_s"], "step_ms": b["step_s"] * 1e3,
            "alloc": b["alloc"], "spread": med / b["step_s"] - 1,
            "maxrss_mib": max(res["maxrss_mib"] for res in rs),
            "gflops": b["flops"] / b["step_s"] / 1e9 if b["flops"] else None,
            "losses": b["losses"], "threads": b.get("threads"), "version": b.get("version"),
        }
    main_lib, peer = case.libs[0], case.libs[1]
    agree = bool(np.allclose(summary[main_lib]["losses"], summary[peer]["losses"],
                             rtol=1e-3, atol=1e-5))
    ratio = summary[main_lib]["samples_s"] / summary[peer]["samples_s"]
    return {"libs": summary, "ratio": ratio, "agree": agree, "runs": len(runs[main_lib])}


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        pass
    core = openblas_core()
    if core:
        # Which kernels OpenBLAS runs matters as much as the CPU: on an AVX-512 machine
        # with OPENBLAS_CORETYPE=Haswell set, NumPy's products run at about half speed.
        forced = os.environ.get("OPENBLAS_CORETYPE")
        blas += f" with its {core} kernels" + (
            f", forced by OPENBLAS_CORETYPE={forced} in the environment" if forced else "")
    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "blas": blas, "glibc": " ".join(platform.libc_ver()),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load": os.getloadavg(),
    }


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def _met(value, target, higher=True) -> str:
    if target is None:
        return ""
    ok = value >= target if higher else value < target
    return "yes" if ok else "**no**"


def table(results: dict, cases: dict, info: dict) -> str:
    lines = [
        "| case | what | nabla samples/s | peer samples/s | ratio nabla/peer | target | met "
        "| nabla peak MiB | peer peak MiB | notes |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for cid, res in results.items():
        case = cases[cid]
        if case.custom is not None:
            continue
        main_lib, peer = case.libs[0], case.libs[1]
        a, b = res["libs"][main_lib], res["libs"][peer]
        notes = [f"{peer}", f"best allocator: nabla {a['alloc']}, {peer} {b['alloc']}",
                 f"spread {a['spread']:.0%}/{b['spread']:.0%}"]
        if not res["agree"]:
            notes.append("**losses differ**")
        if a["gflops"] is not None and cid == "3":
            np_g = res["libs"]["numpy"]["gflops"]
            notes.append(f"GFLOP/s: nabla {a['gflops']:.1f}, torch {b['gflops']:.1f}, NumPy "
                         f"matmuls alone {np_g:.1f}: nabla at **{a['gflops'] / np_g:.0%}** of "
                         f"NumPy's matmul speed (target 90%)")
            mm = res["libs"].get("torch-mm")
            if mm is not None:
                notes.append(f"torch.mm alone {mm['gflops']:.1f}: PyTorch's products run "
                             f"{mm['gflops'] / np_g:.2f}x as fast as NumPy's")
        target = f"≥ {case.target:g}x" if case.target else ""
        lines.append(
            f"| {cid} | {case.title} | {_fmt_rate(a['samples_s'])} | {_fmt_rate(b['samples_s'])} "
            f"| **{res['ratio']:.2f}x** | {target} | {_met(res['ratio'], case.target)} "
            f"| {a['maxrss_mib']:.0f} | {b['maxrss_mib']:.0f} | {'; '.join(notes)} |")
    if "7" in results:
        s = results["7"]
        imp = s["import_nabla"]
        heavy = ", ".join(imp["heavy"]) or "none"
        lines.append(
            f"| 7 | `import nabla` (fresh process, best of N) | {imp['s']:.3f} s | "
            f"numpy alone {s['import_numpy']['s']:.3f} s | | < 0.15 s | "
            f"{_met(imp['s'], 0.15, higher=False)} | {imp['maxrss_mib']:.0f} | "
            f"{s['import_numpy']['maxrss_mib']:.0f} | heavy modules loaded: {heavy}; peak "
            "MiB: the importing process, nabla's and numpy's alone |")
        lines.append(
            f"| 7 | `nabla train` (digits MLP): process start to first optimizer step | "
            f"{s['first_step_s']:.3f} s | | | | | | | best of N |")
    return "\n".join(lines)


def write_markdown(path, results, cases, info, args, torch_info):
    m = info
    load0, load1 = m["load_before"][0], m["load_after"][0]
    command = "python benchmarks/suite.py" + (f" --cases {args.cases}" if args.cases else "")
    text = "\n".join([
        "# Benchmark results",
        "",
        f"Generated by `{command}` on {m['date']}. Do not edit by hand: run the command "
        "again.",
        "",
        f"**Machine:** {m['cpu']}, {m['cores']} cores; Python {m['python']}; NumPy "
        f"{m['numpy']} (BLAS: {m['blas']}); PyTorch {torch_info.get('version', 'n/a')} CPU "
        f"({torch_info.get('threads', '?')} threads); {m['glibc']}. Threads: "
        f"{args.threads or 'each library its default'}.",
        "",
        f"Load average (1 min): {load0:.2f} before the run, {load1:.2f} after (the suite's "
        f"own worker adds about 1). "
        + ("A --quick run: a few steps per worker, one round, numbers not meaningful."
           if args.quick else
           f"Every number is the best of {args.rounds} rounds x 2 allocator settings x up "
           f"to {args.repeats} timed windows ({args.budget:g} s per worker)."),
        "",
        "samples/s = batch size / the best window's mean step time (a step = forward, "
        "loss, zero_grad, backward, optimizer step). Ratios above 1: nabla is faster. "
        "Peak MiB: the worker process's `ru_maxrss`. Spread: how much slower the median "
        "worker was than the best one (the noise on this machine). The tuned allocator: "
        f"`MALLOC_MMAP_THRESHOLD_={TUNED['MALLOC_MMAP_THRESHOLD_']} "
        f"MALLOC_TRIM_THRESHOLD_={TUNED['MALLOC_TRIM_THRESHOLD_']}`.",
        "",
        table(results, cases, info),
        "",
        "Method: `benchmarks/suite.py` (its docstring); the cases: `benchmarks/cases/`.",
        "",
    ])
    with open(path, "w") as f:
        f.write(text)


def torch_info() -> dict:
    code = ("import json, torch; print(json.dumps({'version': torch.__version__, "
            "'threads': torch.get_num_threads()}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny counts and one round, a CI smoke run; prints, writes no file")
    p.add_argument("--cases", help="comma-separated case ids (default: all)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--repeats", type=int, default=40,
                   help="most timed windows per worker (default 40)")
    p.add_argument("--budget", type=float, default=2.0,
                   help="seconds of timed windows per worker, at least 3 windows (default 2)")
    p.add_argument("--threads", type=int, default=0,
                   help="BLAS/OpenMP threads for both libraries (default: their own default)")
    p.add_argument("--out", help="Markdown file to write (default benchmarks/RESULTS.md; "
                                 "--quick writes none unless given)")
    p.add_argument("--quiet", action="store_true", help="only the final table")
    p.add_argument("--worker", nargs=2, metavar=("CASE", "LIB"), help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=WARMUP, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.steps, args.repeats,
                                args.warmup, args.budget)))
        return 0
    if args.quick:
        args.rounds = 1
    cases = registry()
    wanted = args.cases.split(",") if args.cases else list(cases)
    unknown = [c for c in wanted if c not in cases]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; the cases are {', '.join(cases)}")
    info = machine()
    info["load_before"] = info.pop("load")
    tinfo = torch_info()
    results = {}
    for cid in wanted:
        case = cases[cid]
        if not args.quiet:
            print(f"case {cid}: {case.title}", flush=True)
        results[cid] = case.custom(args.quick) if case.custom else run_case(case, args)
    info["load_after"] = os.getloadavg()
    if args.quick:
        print("--quick: a few steps per worker, one round; the numbers below only show "
              "that everything runs, not how fast")
    print(table(results, cases, info))
    out = args.out or (None if args.quick else os.path.join(HERE, "RESULTS.md"))
    if out:
        write_markdown(out, results, cases, info, args, tinfo)
        print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
