"""Neurons, layers and multi-layer perceptrons built from scalar Values.

>>> import random
>>> model = MLP(2, [4, 1], rng=random.Random(0))
>>> model
MLP(
  (0): Layer(2 -> 4, relu)
  (1): Layer(4 -> 1, linear)
)
>>> y = model([1.0, -2.0])
>>> y.backward()
>>> len(model.parameters())
17
"""

import numbers
import random as _random

from .engine import Value

ACTIVATIONS = ("relu", "tanh", "sigmoid")


class Module:
    """Base class: something with parameters (Values) that training adjusts.

    >>> class Scale(Module):
    ...     def __init__(self):
    ...         self.k = Value(2.0)
    ...     def parameters(self):
    ...         return [self.k]
    >>> m = Scale(); m.k.grad = 5.0; m.zero_grad(); m.k.grad
    0.0
    """

    def zero_grad(self):
        """Reset every parameter's gradient to 0 (they accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        """All trainable Values, in a fixed order."""
        return []


class Neuron(Module):
    """``activation(sum(w_i * x_i) + b)``, or without the activation when ``nonlin=False``.

    Weights start uniform in [-1, 1], drawn from ``rng`` (a ``random.Random``, a NumPy
    ``Generator``, or a ``nabla.Generator``) or from Python's global ``random``.

    >>> import random
    >>> n = Neuron(3, activation="tanh", rng=random.Random(1))
    >>> n
    Neuron(3, tanh)
    >>> -1 < n([0.5, -1.0, 2.0]).data < 1
    True
    """

    def __init__(self, nin, nonlin=True, activation="relu", rng=None):
        if not isinstance(nin, int) or isinstance(nin, bool) or nin < 1:
            raise ValueError(f"nin must be a positive int, got {nin!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        rng = _random if rng is None else getattr(rng, "np", rng)  # nabla.Generator wraps NumPy
        self.w = [Value(rng.uniform(-1, 1), label=f"w{i}") for i in range(nin)]
        self.b = Value(0.0, label="b")
        self.nonlin = nonlin
        self.activation = activation

    def __call__(self, x):
        if isinstance(x, (Value, numbers.Real)):  # a 1-wide layer hands on a bare Value
            x = [x]
        if len(x) != len(self.w):
            raise ValueError(f"{self!r} expects {len(self.w)} inputs, got {len(x)}")
        act = Value.dot(self.w, x, self.b)  # one node, not 2n: see Value.dot
        if not self.nonlin:
            return act
        return getattr(act, self.activation)()

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"Neuron({len(self.w)}, {self.activation if self.nonlin else 'linear'})"


class Layer(Module):
    """``nout`` independent neurons reading the same ``nin`` inputs.

    Returns a list of ``nout`` Values, or the single Value itself when ``nout == 1``.

    >>> import random
    >>> layer = Layer(2, 3, rng=random.Random(0))
    >>> len(layer([1.0, 2.0])), len(layer.parameters())
    (3, 9)
    """

    def __init__(self, nin, nout, **kwargs):
        if not isinstance(nout, int) or isinstance(nout, bool) or nout < 1:
            raise ValueError(f"nout must be a positive int, got {nout!r}")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        first = self.neurons[0]
        kind = first.activation if first.nonlin else "linear"
        return f"Layer({len(first.w)} -> {len(self.neurons)}, {kind})"


class MLP(Module):
    """A stack of layers: ``nin`` inputs, then one layer per entry of ``nouts``.

    Every layer but the last applies ``activation``; the last is linear, so its output
    can be any real number (a score or a regression target).

    >>> import random
    >>> model = MLP(3, [4, 4, 1], activation="tanh", rng=random.Random(0))
    >>> len(model.parameters())
    41
    >>> model([2.0, 3.0, -1.0])
    Value(data=..., grad=0.0)
    """

    def __init__(self, nin, nouts, **kwargs):
        if "nonlin" in kwargs:
            raise TypeError("MLP sets nonlin itself (last layer linear); pass activation=")
        sizes = [nin, *nouts]
        if len(sizes) < 2:
            raise ValueError("nouts must list at least one layer size")
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1, **kwargs)
            for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        rows = "".join(f"  ({i}): {layer!r}\n" for i, layer in enumerate(self.layers))
        return f"MLP(\n{rows})"
