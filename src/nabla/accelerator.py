"""``torch.accelerator``: nabla has no accelerator; programs that ask fall back to the CPU.

>>> import nabla
>>> nabla.accelerator.is_available(), nabla.accelerator.current_accelerator()
(False, None)
"""

from __future__ import annotations


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator (PyTorch's answer on a CPU-only build)."""
    return None


def device_count() -> int:
    return 0
