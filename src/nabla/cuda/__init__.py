"""``torch.cuda`` for a CPU-only library: everything reports that there is no GPU.

Programs written for a GPU ask ``cuda.is_available()`` and fall back to the CPU; the
seeding calls they make unconditionally do nothing, as in PyTorch without a GPU. Asking
for a GPU's identity raises an error that says so and what to use instead.

>>> import nabla
>>> nabla.cuda.is_available(), nabla.cuda.device_count()
(False, 0)
>>> "cuda" if nabla.cuda.is_available() else "cpu"
'cpu'
"""

from __future__ import annotations

from . import amp


def _no_gpu(feature: str) -> RuntimeError:
    return RuntimeError(f"{feature}: nabla runs on the CPU only and has no CUDA devices; "
                        "check nabla.cuda.is_available() first and use device='cpu'")


def is_available() -> bool:
    """False: nabla has no GPU backend."""
    return False


def device_count() -> int:
    """0: there are no CUDA devices."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Does nothing, as in PyTorch without a GPU (seed the CPU with ``nabla.manual_seed``)."""


def manual_seed_all(seed: int) -> None:
    """Does nothing, as in PyTorch without a GPU (seed the CPU with ``nabla.manual_seed``)."""


def seed() -> None:
    """Does nothing: there is no GPU generator."""


def seed_all() -> None:
    """Does nothing: there is no GPU generator."""


def empty_cache() -> None:
    """Does nothing: there is no GPU memory to release."""


def synchronize(device=None) -> None:
    raise _no_gpu("nabla.cuda.synchronize()")


def current_device() -> int:
    """Raises: there is no current CUDA device.

    >>> current_device()
    Traceback (most recent call last):
    ...
    RuntimeError: nabla.cuda.current_device(): nabla runs on the CPU only and has no CUDA ...
    """
    raise _no_gpu("nabla.cuda.current_device()")


def get_device_name(device=None) -> str:
    raise _no_gpu("nabla.cuda.get_device_name()")


def get_device_properties(device=None):
    raise _no_gpu("nabla.cuda.get_device_properties()")


def set_device(device) -> None:
    raise _no_gpu("nabla.cuda.set_device()")
