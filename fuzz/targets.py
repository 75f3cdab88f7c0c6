"""The readers under fuzzing, each with the exceptions its docstring documents.

A target takes the raw bytes of a file, writes them where the reader expects a file
and calls the reader. Returning normally or raising a documented exception is fine;
anything else is an *escape*. ``load_checkpoint`` also checks the all-or-nothing
promise: a refused file must leave the model, the optimizer and the generators as
they were.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import nabla
from nabla import io, models, optim
from nabla.data.datasets import mnist

_DIR = tempfile.mkdtemp(prefix="nabla-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                        else None)


def _file(data: bytes, name: str) -> str:
    path = os.path.join(_DIR, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def tiny_training():
    """The objects a fuzzed checkpoint is loaded into (the seed checkpoint fits them)."""
    nabla.manual_seed(0)
    model = models.mlp(3, hidden=(4,), out_features=2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    opt.zero_grad()
    model(nabla.randn(5, 3)).sum().backward()
    opt.step()
    return model, opt, nabla.Generator().manual_seed(3)


_MODEL, _OPT, _GEN = tiny_training()


def _state():
    return ({k: v._data.copy() for k, v in _MODEL.state_dict().items()},
            repr(_OPT.param_groups),
            [{n: t._data.copy() for n, t in s.items()} for s in _OPT.state.values()],
            repr(nabla.get_rng_state()), repr(_GEN.get_state()))


def _same(a, b) -> bool:
    return (a[0].keys() == b[0].keys() and all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
            and a[1] == b[1] and a[3] == b[3] and a[4] == b[4] and len(a[2]) == len(b[2])
            and all(x.keys() == y.keys() and all(np.array_equal(x[n], y[n]) for n in x)
                    for x, y in zip(a[2], b[2])))


class BrokenPromise(Exception):
    """A refused checkpoint changed an object: the all-or-nothing promise is broken."""


def _load_checkpoint(path: str) -> None:
    global _MODEL, _OPT, _GEN
    before = _state()
    rng = nabla.get_rng_state()
    try:
        io.load_checkpoint(path, _MODEL, _OPT, generator=_GEN)
    except io.CheckpointError:
        if not _same(before, _state()):
            raise BrokenPromise(path) from None
        raise
    finally:
        nabla.set_rng_state(rng)
    _MODEL, _OPT, _GEN = tiny_training()  # loaded: start the next input afresh


def _idx(data: bytes) -> None:
    # The first byte picks plain or gzip, so one corpus exercises both paths.
    gz = bool(data[:1]) and data[0] & 1
    mnist.read_idx(_file(data[1:], "f-idx-ubyte.gz" if gz else "f-idx-ubyte"),
                   max_bytes=1 << 24)


SAFETENSORS_OK = (io.CheckpointError,)
TARGETS = {
    # name: (function of the bytes, the documented exceptions, seed kind)
    "load": (lambda d: io.load(_file(d, "f.safetensors")), SAFETENSORS_OK, "safetensors"),
    "read_metadata": (lambda d: io.read_metadata(_file(d, "f.safetensors")), SAFETENSORS_OK,
                      "safetensors"),
    "load_model": (lambda d: io.load_model(_file(d, "f.safetensors")), SAFETENSORS_OK,
                   "safetensors"),
    "read_checkpoint": (lambda d: io.read_checkpoint(_file(d, "f.safetensors")),
                        SAFETENSORS_OK, "safetensors"),
    "load_checkpoint": (lambda d: _load_checkpoint(_file(d, "f.safetensors")),
                        SAFETENSORS_OK, "safetensors"),
    "read_idx": (_idx, (ValueError,), "idx"),
}


def run_one(name: str, data: bytes):
    """Run target ``name`` on ``data``; return None, or the escaped exception."""
    fn, allowed, _ = TARGETS[name]
    try:
        fn(data)
    except allowed as e:
        if isinstance(e, BrokenPromise):
            return e
        msg = str(e)
        if _DIR not in msg:  # the contract: the message names the file
            return AssertionError(f"message does not name the file: {msg[:200]}")
    except Exception as e:  # noqa: BLE001 - any other exception is what we look for
        return e
    return None
