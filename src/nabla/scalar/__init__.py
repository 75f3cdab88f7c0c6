"""The scalar teaching engine: autograd on single numbers, micrograd-style.

Small enough to read in one sitting; the Tensor engine does the same on arrays.

>>> from nabla.scalar import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> L = (a * b + 10) * -2
>>> L.backward()
>>> L.data, a.grad, b.grad
(-8.0, 6.0, -4.0)
"""

from . import nn
from .engine import Value
from .graph import draw, to_dot

__all__ = ["Value", "draw", "nn", "to_dot"]
