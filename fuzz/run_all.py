"""Fuzz every reader for a bounded time and report inputs and escapes.

    python fuzz/run_all.py --seconds 20            # CI smoke: 20 s in all
    nice python fuzz/run_all.py --seconds 3600 --workdir /tmp/nabla-fuzz

The time is split evenly between the targets (fuzz/targets.py). Seeds come from
fuzz/make_seeds.py; each target's corpus grows in WORKDIR/corpus/TARGET across runs.
Exits 1 if any input escaped the documented exceptions (the inputs are kept in
WORKDIR/escapes). Uses atheris when it is installed (``pip install atheris``, in the
``dev`` extra); otherwise a plain random mutation fuzzer over the same seeds.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _run_atheris(name, seconds, corpus, seeds, escapes) -> tuple[int, bool]:
    cmd = [sys.executable, os.path.join(HERE, "fuzz_one.py"), name, escapes, corpus, seeds,
           f"-max_total_time={max(1, int(seconds))}", "-timeout=20", "-rss_limit_mb=3000",
           "-max_len=65536", "-print_final_stats=1"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    runs = re.findall(r"Done (\d+) runs", out.stderr) or re.findall(
        r"stat::number_of_executed_units:\s*(\d+)", out.stderr)
    crashed = out.returncode != 0
    if crashed:
        sys.stderr.write(out.stderr[-3000:])
    return (int(runs[-1]) if runs else 0), crashed


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(b) + 1)
        if op < 0.4 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op < 0.6:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op < 0.8 and b:
            del b[pos:pos + rng.randint(1, 16)]
        else:
            token = rng.choice([b"[", b"{", b"]", b"}", b'"', b",", b"-1", b"1e999", b"null",
                                b"[]", b"{}", b'"F32"', b'"U64"', b"99999999999999999999"])
            b[pos:pos] = token
    return bytes(b)


def _run_plain(name, seconds, seeds, escapes) -> tuple[int, bool]:
    import targets

    kind = targets.TARGETS[name][2]
    pool = [open(os.path.join(seeds, kind, f), "rb").read()
            for f in sorted(os.listdir(os.path.join(seeds, kind)))]
    rng, n, end = random.Random(0), 0, time.monotonic() + seconds
    while time.monotonic() < end:
        data = _mutate(rng.choice(pool), rng)
        n += 1
        e = targets.run_one(name, data)
        if e is not None:
            with open(os.path.join(escapes, name + ".log"), "a") as log:
                log.write(f"{type(e).__name__}: {str(e)[:200]!r}\n")
    return n, False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20, help="total time for all targets")
    p.add_argument("--workdir", default=None, help="corpus and escapes (default: a temp dir)")
    p.add_argument("--targets", nargs="*", default=None)
    p.add_argument("--plain", action="store_true", help="the random fuzzer, not atheris")
    args = p.parse_args(argv)

    import make_seeds
    import targets

    work = args.workdir or tempfile.mkdtemp(prefix="nabla-fuzz-")
    seeds, escapes = os.path.join(work, "seeds"), os.path.join(work, "escapes")
    os.makedirs(escapes, exist_ok=True)
    if not os.path.isdir(seeds):
        make_seeds.make(seeds)
    names = args.targets or list(targets.TARGETS)
    use_atheris = not args.plain and _atheris_available()
    total_runs, total_escapes, crashed_any = 0, 0, False
    for name in names:
        kind = targets.TARGETS[name][2]
        corpus = os.path.join(work, "corpus", name)
        os.makedirs(corpus, exist_ok=True)
        seconds = args.seconds / len(names)
        if use_atheris:
            runs, crashed = _run_atheris(name, seconds, corpus, os.path.join(seeds, kind),
                                         escapes)
        else:
            runs, crashed = _run_plain(name, seconds, seeds, escapes)
        log = os.path.join(escapes, name + ".log")
        n_esc = sum(1 for _ in open(log)) if os.path.exists(log) else 0
        print(f"{name:16s} {runs:9d} inputs  {n_esc:6d} escapes"
              f"{'  (fuzzer crashed)' if crashed else ''}", flush=True)
        total_runs += runs
        total_escapes += n_esc
        crashed_any |= crashed
    print(f"{'total':16s} {total_runs:9d} inputs  {total_escapes:6d} escapes "
          f"({'atheris' if use_atheris else 'plain mutation'}; workdir {work})")
    return 1 if total_escapes or crashed_any else 0


if __name__ == "__main__":
    sys.exit(main())
