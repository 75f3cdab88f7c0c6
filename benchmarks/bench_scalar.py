"""nabla.scalar against a plain micrograd-style scalar engine, one training step each.

Both train MLP(2, [16, 16, 1]) with ReLU on the same 100 points from the same initial
weights: forward over the whole batch, mean squared error, zero_grad, backward, SGD
update. The reference engine below is the textbook design (a closure per op, a set of
children, a recursive topological sort); it is written here so the comparison needs
nothing installed. The two runs must produce the same losses, or the timing is void.

    python benchmarks/bench_scalar.py            # timed run
    python benchmarks/bench_scalar.py --quick    # two steps each, a CI smoke test
"""

import argparse
import gc
import math
import random
import statistics
import time

from nabla.scalar.nn import MLP

# --------------------------------------------------------------------------------------
# The reference: a closure-based scalar engine in the classic style.
# --------------------------------------------------------------------------------------


class RefValue:
    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(children)
        self._op = op

    def __add__(self, other):
        other = other if isinstance(other, RefValue) else RefValue(other)
        out = RefValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, RefValue) else RefValue(other)
        out = RefValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        out = RefValue(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = RefValue(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def backward(self):
        order, visited = [], set()

        def visit(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


class RefNeuron:
    def __init__(self, w, b, nonlin):
        self.w, self.b, self.nonlin = [RefValue(x) for x in w], RefValue(b), nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class RefMLP:
    """Built as a copy of a nabla MLP, so both engines start from the same weights."""

    def __init__(self, model):
        self.layers = [
            [RefNeuron([w.data for w in n.w], n.b.data, n.nonlin) for n in layer.neurons]
            for layer in model.layers
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = [n(x) for n in layer]
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for n in layer for p in n.parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


# --------------------------------------------------------------------------------------


def make_data(n, rng):
    """Two interleaved half-moons with labels -1 and +1: small, and not linearly separable."""
    xs, ys = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            x, y = math.cos(t), math.sin(t)
        else:
            x, y = 1.0 - math.cos(t), 0.5 - math.sin(t)
        xs.append([x + rng.gauss(0, 0.1), y + rng.gauss(0, 0.1)])
        ys.append(1.0 if i % 2 else -1.0)
    return xs, ys


def step(model, xs, ys, lr, forward=None):
    """One full training step; returns the loss before the update."""
    forward = forward or model
    scores = [forward(x) for x in xs]
    loss = sum((s - y) ** 2 for s, y in zip(scores, ys)) * (1.0 / len(xs))
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return loss.data


def unfused(model):
    """nabla Values, but each neuron written as sum(w * x) + b: 2n nodes instead of one
    Value.dot node. Shows how much of the speed-up is the lean node and how much fusion."""

    def forward(x):
        for layer in model.layers:
            out = []
            for n in layer.neurons:
                act = sum((wi * xi for wi, xi in zip(n.w, x)), n.b)
                out.append(act.relu() if n.nonlin else act)
            x = out
        return x[0]

    return forward


def time_steps(run, steps, collect_between):
    """Time each step. With collect_between, the cyclic garbage collector is paused
    inside the timed step and run between steps instead: pure compute, no GC pauses."""
    times, losses = [], []
    gc.collect()
    for _ in range(steps):
        if collect_between:
            gc.collect()
            gc.disable()
        try:
            t0 = time.perf_counter()
            losses.append(run())
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return times, losses


def make_runs(xs, ys, lr):
    """Three engines, each from the same initial weights."""
    runs = {}
    for name in ("reference", "nabla", "nabla-unfused"):
        model = MLP(2, [16, 16, 1], rng=random.Random(1))
        if name == "reference":
            ref = RefMLP(model)
            runs[name] = lambda ref=ref: step(ref, xs, ys, lr)
        elif name == "nabla":
            runs[name] = lambda model=model: step(model, xs, ys, lr)
        else:
            fwd = unfused(model)
            runs[name] = lambda model=model, fwd=fwd: step(model, xs, ys, lr, fwd)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two steps each (smoke test)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per engine")
    args = parser.parse_args()
    steps = 2 if args.quick else args.steps
    xs, ys = make_data(100, random.Random(0))

    print(f"MLP(2, [16, 16, 1]), 100 points, {steps} steps each, median time per step")
    ratios = {}
    for collect_between, title in (
        (False, "garbage collector on, as Python runs by default"),
        (True, "garbage collector paused in the step, run between steps (pure compute)"),
    ):
        results = {
            name: time_steps(run, steps, collect_between)
            for name, run in make_runs(xs, ys, lr=0.05).items()
        }
        ref_losses = results["reference"][1]
        for name, (_, losses) in results.items():
            for a, b in zip(ref_losses, losses):
                if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                    raise SystemExit(f"{name} diverged from the reference: loss {b!r} vs {a!r}")
        # The median: a first step or one long collection does not decide the result.
        med = {name: statistics.median(times) for name, (times, _) in results.items()}
        print(f"{title}; loss {ref_losses[0]:.4f} -> {ref_losses[-1]:.4f} in every engine")
        for name, t in med.items():
            ratio = med["reference"] / t
            print(f"  {name:<14} {t * 1e3:9.2f} ms/step   reference/this = {ratio:6.2f}x")
        ratios[title.split(";")[0].split(",")[0]] = med["reference"] / med["nabla"]
    for title, ratio in ratios.items():
        print(f"ratio reference_time / nabla_time ({title}) = {ratio:.2f}")


if __name__ == "__main__":
    main()
