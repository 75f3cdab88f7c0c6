"""Run several programs of this directory in one process and print their final losses as JSON.

    LIB=torch python tests/programs/run_all.py SEED PROGRAM [PROGRAM ...]

tests/test_programs.py uses it so that each library is imported once for the whole corpus
(importing torch costs seconds); each program still runs as `__main__` from its own text.
The last line printed is a JSON object: program -> {"loss": float or null, "error": str or
null, "tail": the program's last lines of output}.
"""

import contextlib
import io
import json
import os
import runpy
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def run(name, seed):
    os.environ["SEED"] = str(seed)
    out = io.StringIO()
    loss, error = None, None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            runpy.run_path(os.path.join(HERE, name + ".py"), run_name="__main__")
    except BaseException:  # noqa: B036 - a failing program is a result to report, not to raise
        error = traceback.format_exc(limit=-8)
    lines = out.getvalue().strip().splitlines()
    if error is None:
        last = lines[-1] if lines else ""
        if last.startswith("final loss "):
            loss = float(last.split()[-1])
        else:
            error = f"the last line is not 'final loss X': {last!r}"
    return {"loss": loss, "error": error, "tail": "\n".join(lines[-6:])}


def main():
    seed, names = int(sys.argv[1]), sys.argv[2:]
    sys.path.insert(0, HERE)
    results = {name: run(name, seed) for name in names}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
