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

__all__ = ["cuda", "cudnn", "mps"]
