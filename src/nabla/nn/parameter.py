"""``torch.nn.parameter``'s names: ``Parameter`` and ``Buffer``.

>>> import nabla
>>> from nabla.nn.parameter import Parameter
>>> Parameter(nabla.ones(1)).requires_grad
True
"""

from .module import Buffer, Parameter

__all__ = ["Parameter", "Buffer"]
