"""``torch.backends``: the switches GPU programs set, accepted and recorded on the CPU.

``cudnn.benchmark``, ``cudnn.deterministic``, ``cuda.matmul.allow_tf32`` and the like are
plain settable attributes with PyTorch's defaults; nabla's CPU kernels do not read them
(its float32 matmul is always full float32 precision). ``mps.is_available()`` is False.

>>> import nabla
>>> nabla.backends.mps.is_available(), nabla.backends.cuda.matmul.allow_tf32
(False, False)
>>> nabla.backends.cudnn.benchmark = True  # recorded; nabla's CPU kernels ignore it
>>> nabla.backends.cudnn.benchmark = False
"""

from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps", "set_float32_matmul_precision",
           "get_float32_matmul_precision"]

_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """``torch.set_float32_matmul_precision``: recorded, and nabla's float32 matmuls stay
    full float32 whatever it says (the CPU's BLAS has no reduced-precision mode).

    >>> import nabla
    >>> nabla.set_float32_matmul_precision("high"); nabla.get_float32_matmul_precision()
    'high'
    >>> nabla.set_float32_matmul_precision("highest")
    """
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"precision must be 'highest', 'high' or 'medium', got {precision!r}")
    _precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _precision[0]
