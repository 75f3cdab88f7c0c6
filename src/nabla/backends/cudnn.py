"""``torch.backends.cudnn``: settable flags with PyTorch's defaults; nothing reads them.

>>> from nabla.backends import cudnn
>>> cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, cudnn.version()
(True, False, False, True, None)
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    """None: there is no cuDNN (as PyTorch answers without it)."""
    return None
