"""``torch.backends.mps``: Apple's GPU is not a nabla device.

>>> is_available(), is_built()
(False, False)
"""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
