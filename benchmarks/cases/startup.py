"""Case 7: how long a user waits. ``import nabla``, and ``nabla train`` to its first step.

``import nabla`` is timed inside a fresh interpreter (the clock starts just before the
import statement), best of N; ``import numpy`` is timed the same way, as the floor no
NumPy library can go under. The heavy optional modules (matplotlib, tqdm, safetensors,
PIL) must not be loaded by the import.

Time to first batch: the parent starts ``nabla train`` (the defaults: an MLP on the
bundled digits) in a fresh process and stops the clock when the child reports that its
first optimizer step returned. The child is the real command line, run through a
three-line wrapper that wraps ``step`` of nabla's optimizers to print a marker and exit
at once; nothing else changes. The clock therefore holds interpreter start-up,
imports, argument parsing, data loading and standardisation, model building and one
forward, backward and update.

The bytecode cache is warmed by one untimed run first, as it is on any installed
package (the sandbox this was written in sets PYTHONDONTWRITEBYTECODE; it is unset for
these children, so that the numbers are those of a normal installation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from . import Case

HEAVY = ("matplotlib", "tqdm", "safetensors", "PIL", "torch", "scipy")
MARKER = "NABLA-FIRST-STEP-DONE"

_IMPORT = """
import time
t0 = time.perf_counter()
import {module}
dt = time.perf_counter() - t0
import json, resource, sys
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({{"s": dt, "heavy": [m for m in {heavy!r} if m in sys.modules],
                   "maxrss_mib": rss}}))
"""

_FIRST_STEP = """
import os, sys
import nabla.optim as o
def wrap(cls):
    step = cls.step
    def first(self, *a, **k):
        step(self, *a, **k)
        print({marker!r}, flush=True)
        os._exit(0)
    cls.step = first
for name in dir(o):
    obj = getattr(o, name)
    if isinstance(obj, type) and issubclass(obj, o.Optimizer):
        wrap(obj)
from nabla.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env():
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["MPLBACKEND"] = "Agg"
    return env


def import_time(module: str, n: int) -> dict:
    code = _IMPORT.format(module=module, heavy=HEAVY)
    best, heavy, rss = float("inf"), [], 0.0
    for i in range(n + 1):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=_env(), check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        if i:  # the first run only warms the bytecode cache
            best = min(best, res["s"])
        heavy = res["heavy"]
        rss = max(rss, res["maxrss_mib"])
    return {"s": best, "heavy": heavy, "maxrss_mib": rss}


def time_to_first_step(n: int) -> float:
    code = _FIRST_STEP.format(marker=MARKER)
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n + 1):
            cmd = [sys.executable, "-c", code, "train", "--quiet", "--no-plots", "--out",
                   os.path.join(tmp, f"run{i}")]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=_env())
            found = False
            for line in proc.stdout:
                if MARKER in line:
                    found = True
                    break
            elapsed = time.perf_counter() - t0
            _, err = proc.communicate(timeout=120)
            if not found:
                raise RuntimeError(f"nabla train never reached its first step:\n{err}")
            if i:
                best = min(best, elapsed)
    return best


def startup(quick: bool) -> dict:
    n = 1 if quick else 10
    return {
        "import_nabla": import_time("nabla", n),
        "import_numpy": import_time("numpy", n),
        "first_step_s": time_to_first_step(n if quick else 5),
    }


CASES = [Case("7", "start-up: import nabla; nabla train to its first step", (), None,
              custom=startup)]
