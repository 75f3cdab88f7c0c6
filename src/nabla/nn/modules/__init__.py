"""PyTorch's ``torch.nn.modules`` import paths (``nabla.nn.modules.linear.Linear``, ...):
thin re-exports of the layers, which live in ``nabla.nn.layers``."""

from . import activation, container, conv, linear, loss, module, rnn  # noqa: F401
