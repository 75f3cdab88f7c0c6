"""The cases of ``benchmarks/suite.py``: one module per family, one entry per case.

A training case names the libraries it runs (one per worker process) and builds, for
any of them, a ``Workload``: a ``step()`` that trains on the next batch and returns the
loss, the batch size, and (where meaningful) the floating-point operations of one step.
Every library starts from the same NumPy weights and sees the same batches, so their
first losses must agree, or the timing compares different computations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Workload:
    step: Callable[[], object]  # one training step; returns the loss (``.item()``)
    batch: int  # samples per step
    flops: float | None = None  # floating-point operations of one step, where counted
    info: dict = field(default_factory=dict)  # anything the worker reports back as is
    # Where a step draws from the library's own generator (dropout, randint) the two
    # libraries' losses differ by design: reference() gives the numbers they must agree
    # on instead (e.g. the loss with dropout off), and the warm-up losses are not compared.
    reference: Callable[[], list] | None = None


@dataclass
class Case:
    id: str
    title: str
    libs: tuple  # worker libraries, the first is nabla's side, the second the peer
    build: Callable  # build(lib_name) -> Workload
    target: float | None = None  # wanted ratio nabla / peer (samples/s), if any
    steps: int = 20  # steps per timed window (full run)
    quick_steps: int = 2
    custom: Callable | None = None  # custom(quick) -> dict, for cases that are not steps


def import_lib(name: str):
    """The library module for a worker: nabla or torch (torch only ever in its own process)."""
    if name == "torch":
        import torch

        return torch
    import nabla

    return nabla


def openblas_core() -> str | None:
    """The kernel set OpenBLAS chose (e.g. "Haswell"), if NumPy's BLAS is OpenBLAS."""
    from threadpoolctl import threadpool_info

    found = [lib for lib in threadpool_info() if lib.get("internal_api") == "openblas"]
    found.sort(key=lambda lib: "numpy" not in lib.get("filepath", ""))  # NumPy's first
    return found[0].get("architecture") if found else None


def uniform_init(rng: np.random.Generator, shapes: dict) -> dict:
    """PyTorch's default bounds, 1/sqrt(fan_in) for weights and biases of a layer, drawn
    once in NumPy so that both libraries start from identical weights."""
    out = {}
    for name, shape in shapes.items():
        w_shape = shapes[name.rsplit(".", 1)[0] + ".weight"] if name.endswith("bias") else shape
        fan_in = int(np.prod(w_shape[1:])) if len(w_shape) > 1 else int(w_shape[0])
        bound = 1 / np.sqrt(fan_in)
        out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return out


def load(lib, model, weights: dict):
    model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in weights.items()})


def cycle(batches: list):
    """An endless walk over a fixed list of batches (the data is made once, up front)."""
    state = {"i": 0}

    def next_batch():
        i = state["i"]
        state["i"] = (i + 1) % len(batches)
        return batches[i]

    return next_batch


def training_step(model, loss_fn, opt, next_batch):
    """The usual loop body, identical for every library: forward, loss, zero_grad,
    backward, step."""

    def step():
        x, y = next_batch()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def registry() -> dict:
    from . import mlp, programs, scalar, spatial, startup, word_lm

    cases = [*mlp.CASES, *spatial.CASES, *scalar.CASES, *startup.CASES, *programs.CASES,
             *word_lm.CASES]
    return {c.id: c for c in cases}
