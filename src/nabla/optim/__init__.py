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
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .minimize import MinimizeResult, minimize
from .nadam import NAdam
from .optimizer import Optimizer, required
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "ASGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "MinimizeResult",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "lr_scheduler",
    "minimize",
    "required",
]
