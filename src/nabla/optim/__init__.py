"""Optimizers, learning-rate schedulers and plain gradient descent with a stop rule.

The optimizers mirror ``torch.optim``: same constructors, same ``param_groups`` and
``state``, same ``state_dict`` layout, and the same arithmetic step for step.

>>> import nabla
>>> from nabla import optim
>>> w = nabla.tensor([0.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.1)
>>> for _ in range(100):
...     opt.zero_grad()
...     ((w - 3.0) ** 2).sum().backward()
...     opt.step()
>>> round(w.item(), 4)
3.0
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .minimize import MinimizeResult, minimize
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "MinimizeResult",
    "Optimizer",
    "RMSprop",
    "SGD",
    "lr_scheduler",
    "minimize",
    "required",
]
