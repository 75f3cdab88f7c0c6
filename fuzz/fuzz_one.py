"""Fuzz one reader with atheris (libFuzzer, coverage-guided).

    python fuzz/fuzz_one.py TARGET ESCAPES_DIR CORPUS_DIR [SEED_DIR] [-max_total_time=N ...]

Escapes (exceptions the reader does not document) are written to ESCAPES_DIR
(``TARGET.log``, one line each, and the input that caused each new kind), and fuzzing
goes on; ``NABLA_FUZZ_STRICT=1`` makes the first escape stop the run as a crash.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
with atheris.instrument_imports(include=["nabla", "targets"]):
    import targets

NAME, ESCAPES = sys.argv[1], sys.argv[2]
STRICT = os.environ.get("NABLA_FUZZ_STRICT") == "1"
_seen: set = set()


def test_one_input(data: bytes) -> None:
    e = targets.run_one(NAME, data)
    if e is None:
        return
    where = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    kind = f"{type(e).__name__} at {where[0].filename}:{where[0].lineno}" if where \
        else type(e).__name__
    with open(os.path.join(ESCAPES, NAME + ".log"), "a") as log:
        log.write(f"{kind}: {str(e)[:200]!r}\n")
    if kind not in _seen:
        _seen.add(kind)
        digest = hashlib.sha1(data).hexdigest()[:12]
        with open(os.path.join(ESCAPES, f"{NAME}-{digest}.bin"), "wb") as f:
            f.write(data)
    if STRICT:
        raise e


if __name__ == "__main__":
    atheris.Setup([sys.argv[0], *sys.argv[3:]], test_one_input)
    atheris.Fuzz()
