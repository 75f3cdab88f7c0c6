"""Neural-network building blocks: ``Module``, layers, losses, initialisation.

>>> import nabla
>>> from nabla import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> model(nabla.zeros(2, 4)).shape
(2, 3)
"""

from . import functional, init
from .layers import (
    GELU,
    Dropout,
    Flatten,
    Heaviside,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
    Unflatten,
)
from .module import Buffer, Module, ModuleDict, ModuleList, Parameter, Sequential
