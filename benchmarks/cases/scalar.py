"""Case 6: the scalar engine (nabla.scalar) against a closure-based micrograd-style engine.

Both train MLP(2, [16, 16, 1]) on the same 100 points from the same weights: one full
step is forward over all points, mean squared error, zero_grad, backward, SGD update.
The reference engine and the step are bench_scalar.py's, imported, not copied.
"""

from __future__ import annotations

import os
import random
import sys

from . import Case, Workload

N_POINTS, LR = 100, 0.05


class _Loss:
    """The scalar step returns a float; the worker reads losses with ``.item()``."""

    def __init__(self, value):
        self.value = value

    def item(self):
        return float(self.value)


def scalar(lib_name):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench_scalar import RefMLP, make_data, step

    from nabla.scalar.nn import MLP

    xs, ys = make_data(N_POINTS, random.Random(0))
    model = MLP(2, [16, 16, 1], rng=random.Random(1))
    if lib_name == "reference":
        model = RefMLP(model)
    return Workload(lambda: _Loss(step(model, xs, ys, LR)), N_POINTS)


CASES = [
    Case("6", "scalar engine: MLP(2, [16, 16, 1]) on 100 points, one full step",
         ("nabla", "reference"), scalar, target=5.0, steps=1, quick_steps=1),
]
