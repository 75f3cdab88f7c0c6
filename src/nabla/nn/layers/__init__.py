"""Layers, one file per family; everything here is re-exported by ``nabla.nn``."""

from .activation import (
    GELU,
    Heaviside,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
)
from .container import Flatten, Identity, Unflatten
from .dropout import Dropout
from .linear import Linear
from .perceptron import (
    ConvergenceWarning,
    NotLinearlySeparableError,
    Perceptron,
    PerceptronResult,
)
