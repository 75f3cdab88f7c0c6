"""Neural-network building blocks: ``Module``, layers, losses, initialisation.

>>> import nabla
>>> from nabla import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> model(nabla.zeros(2, 4)).shape
(2, 3)
"""

from . import functional, init, utils
from .layers import (
    GELU,
    ConvergenceWarning,
    Dropout,
    Flatten,
    Heaviside,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    NotLinearlySeparableError,
    Perceptron,
    PerceptronResult,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
    Unflatten,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Buffer, Module, ModuleDict, ModuleList, Parameter, Sequential
