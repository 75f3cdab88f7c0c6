"""Ready-made datasets: MNIST and Fashion-MNIST (read from IDX files, downloaded on
request), the bundled UCI digits, and seeded synthetic toy sets.

>>> from nabla.data import datasets
>>> len(datasets.Digits(train=False))
359
"""

from .digits import Digits, digits
from .mnist import MNIST, DownloadError, FashionMNIST, download_file, read_idx
from .toy import (
    HOUSE_PRICE_BASE,
    HOUSE_PRICE_LOCATION,
    HOUSE_PRICE_PER_M2,
    blobs,
    circles,
    house_prices,
    moons,
    spiral,
    xor,
)

__all__ = [
    "MNIST", "FashionMNIST", "read_idx", "download_file", "DownloadError",
    "Digits", "digits",
    "xor", "spiral", "moons", "circles", "blobs", "house_prices",
    "HOUSE_PRICE_BASE", "HOUSE_PRICE_PER_M2", "HOUSE_PRICE_LOCATION",
]
