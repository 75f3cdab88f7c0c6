"""A scalar autograd engine: every Value remembers the Values it was computed from and
the local derivative with respect to each, so ``backward()`` can apply the chain rule
by walking that graph from the output back to the inputs.

Each op computes its result and its local derivatives side by side. They are stored as
plain numbers in ``_local`` rather than in a closure per op (micrograd's way): building
a tuple is cheaper than building a function, and backward becomes one tight loop.

>>> x = Value(3.0, label="x")
>>> y = x * x + 2 * x          # dy/dx = 2x + 2
>>> y.backward()
>>> y, x.grad
(Value(data=15.0, grad=1.0), 8.0)
"""

import math
import numbers
from itertools import compress
from operator import mul


def _as_float(x):
    if type(x) is float:  # skip the slower abstract-class check below
        return x
    if isinstance(x, numbers.Real):  # int, float, bool, NumPy scalars
        return float(x)
    kind = "a Value" if isinstance(x, Value) else type(x).__name__
    raise TypeError(f"Value holds one real number (int or float), got {kind}: {x!r}")


def _sigmoid(a):
    # Two forms so that exp() only ever sees a non-positive argument: no overflow.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


class Value:
    """A scalar that records the operations made from it, for reverse-mode autodiff.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = (a * b + 6.5).tanh()        # tanh(0.5)
    >>> c.backward()
    >>> round(c.data, 4), round(a.grad, 4), round(b.grad, 4)
    (0.4621, -2.3593, 1.5729)
    """

    # Slots: no per-instance __dict__, so a Value is smaller and faster to build.
    __slots__ = ("data", "grad", "_prev", "_op", "_local", "label")

    def __init__(self, data, _prev=(), _op="", _local=(), label=""):
        self.data = data if type(data) is float else _as_float(data)
        self.grad = 0.0
        self._prev = _prev  # the Values this one was computed from (its children)
        self._op = _op
        self._local = _local  # d(self)/d(child) for each child, in the order of _prev
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # -- arithmetic: result and local derivatives, one line apart ------------------------
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), "-", (1.0, -1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = self.data / other.data  # dividing by zero raises ZeroDivisionError here
        return Value(out, (self, other), "/", (1.0 / other.data, -out / other.data))

    def __pow__(self, k):
        if isinstance(k, Value) or not isinstance(k, numbers.Real):
            raise TypeError(
                f"Value ** k needs k to be a plain int or float, got {type(k).__name__}; "
                "for a Value exponent write (k * base.log()).exp()"
            )
        out = self.data**k
        if isinstance(out, complex):
            raise ValueError(f"{self.data!r} ** {k!r} has no real value (negative base)")
        try:
            d = k * self.data ** (k - 1)
        except ZeroDivisionError:  # at 0 the slope of x**k is infinite for 0<k<1, 0 for k=0
            d = math.inf if k else 0.0
        return Value(out, (self,), f"**{k}", (d,))

    def __rpow__(self, base):  # base ** self, for a positive number base
        if not isinstance(base, numbers.Real):
            return NotImplemented  # Python then raises its usual TypeError
        if base <= 0:
            raise ValueError(f"number ** Value needs a positive base, got {base!r}")
        out = float(base) ** self.data
        return Value(out, (self,), f"{base}**", (out * math.log(base),))

    def __neg__(self):
        return Value(-self.data, (self,), "neg", (-1.0,))

    def __radd__(self, other):  # other + self, where other is a number
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value(other) - self

    def __rtruediv__(self, other):
        return Value(other) / self

    # -- functions ----------------------------------------------------------------------
    def relu(self):
        on = self.data > 0
        return Value(self.data if on else 0.0, (self,), "relu", (1.0 if on else 0.0,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self):
        s = _sigmoid(self.data)
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))

    def exp(self):
        e = math.exp(self.data)  # above ~709.78 this raises OverflowError
        return Value(e, (self,), "exp", (e,))

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log is defined only for positive numbers, got {self.data!r}")
        return Value(math.log(self.data), (self,), "log", (1.0 / self.data,))

    def softplus(self):
        a = self.data  # log(1 + e^a), written so that exp() cannot overflow
        out = max(a, 0.0) + math.log1p(math.exp(-abs(a)))
        return Value(out, (self,), "softplus", (_sigmoid(a),))

    @staticmethod
    def dot(ws, xs, bias=0.0):
        """``sum(w * x for w, x in zip(ws, xs)) + bias`` as ONE graph node.

        A neuron written with ``*`` and ``+`` makes 2n nodes; this makes one, with a
        local derivative per input (d/dw = x, d/dx = w, d/dbias = 1). Plain numbers
        in ``xs`` (a network's input) stay constants and get no gradient.

        >>> w, b = [Value(2.0), Value(-1.0)], Value(0.5)
        >>> y = Value.dot(w, [3.0, 4.0], b)
        >>> y.backward()
        >>> y.data, w[0].grad, w[1].grad, b.grad
        (2.5, 3.0, 4.0, 1.0)
        """
        if len(ws) != len(xs):
            raise ValueError(f"dot needs as many weights as inputs, got {len(ws)} and {len(xs)}")
        bias = bias if isinstance(bias, Value) else Value(bias)
        wd = [w.data for w in ws]
        is_val = [isinstance(x, Value) for x in xs]
        if all(is_val):  # a hidden layer: the common case, and a quicker one
            xd = [x.data for x in xs]
            out = sum(map(mul, wd, xd), bias.data)
            return Value(out, (*ws, *xs, bias), "dot", (*xd, *wd, 1.0))
        xd = [x.data if v else _as_float(x) for x, v in zip(xs, is_val)]
        out = sum(map(mul, wd, xd), bias.data)
        prev, local = (*ws, *compress(xs, is_val), bias), (*xd, *compress(wd, is_val), 1.0)
        return Value(out, prev, "dot", local)

    # -- backward -----------------------------------------------------------------------
    def _topo(self):
        """The interior nodes reachable from self (self included), parents before
        children. Leaves are left out: they have nothing to pass a gradient on to.
        Iterative, so a 100,000-deep chain cannot hit Python's recursion limit."""
        order, seen, stack = [], set(), [self]
        while stack:
            v = stack.pop()
            if v is None:  # marker: everything v depends on is already in order
                order.append(stack.pop())
            elif v not in seen:
                seen.add(v)
                stack += (v, None)
                stack += [c for c in v._prev if c._prev and c not in seen]
        order.reverse()
        return order

    def backward(self):
        """Fill ``.grad`` of every Value that ``self`` depends on with d(self)/d(it).

        Leaves (Values made directly, like weights) accumulate with ``+=``, so zero them
        between steps; the graph is kept, so ``backward()`` may be called again.

        >>> w = Value(3.0)
        >>> y = w * w
        >>> y.backward(); w.grad
        6.0
        >>> w.grad = 0.0; y.backward(); w.grad
        6.0
        """
        order = self._topo()
        for v in order:  # interior grads restart, so a second backward() repeats the first
            v.grad = 0.0
        self.grad = 1.0
        for v in order:
            g = v.grad
            if g:  # a zero gradient would only add zeros to every child
                for child, d in zip(v._prev, v._local):
                    child.grad += d * g

    # Jupyter shows a Value as its graph: ``graph.py`` (which draws Values, so imports
    # this module) gives the class its ``_repr_svg_``, and the package imports it, so
    # this module never imports the drawing code back.
