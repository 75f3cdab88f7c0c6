"""Utilities under PyTorch's paths (``torch.utils.data``, ``torch.utils.tensorboard``);
each loads when first used.

>>> import nabla
>>> nabla.utils.data.DataLoader is nabla.data.DataLoader
True
"""

import importlib

_SUBMODULES = ("data", "tensorboard")


def __getattr__(name):
    # PEP 562: ``nabla.utils.data`` works after ``import nabla`` alone, and importing
    # ``nabla.utils`` costs nothing until a submodule is used.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
