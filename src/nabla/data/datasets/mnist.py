"""MNIST and Fashion-MNIST: the IDX file reader, a verified downloader, the datasets.

The IDX format (LeCun et al.) is a 4-byte magic number ``00 00 <type> <ndim>``, then
``ndim`` big-endian uint32 dimensions, then the items, big-endian, row-major.
``read_idx`` checks all of it against the file's real length before it allocates, so a
corrupt header cannot ask for terabytes.

>>> import gzip, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte.gz")
>>> with gzip.open(path, "wb") as f:
...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9]))
>>> read_idx(path)
array([7, 1, 9], dtype=uint8)
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..dataset import _ImageArrayDataset

# IDX type code -> big-endian NumPy dtype.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Deflate cannot expand data more than about 1032-fold, so a gzip file of c bytes holds
# at most ~1032 * c bytes: anything a header claims beyond that is a lie we can reject
# before decompressing a byte.
_DEFLATE_MAX_RATIO = 1100
_CHUNK = 1 << 20
# No IDX file nabla reads comes near this (MNIST's largest is 47 MB); a header that
# claims more is refused before anything is allocated, whatever the file's size.
MAX_IDX_BYTES = 1 << 30


def _parse_header(head: bytes, path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check the magic number and dimensions; return (dtype, shape, header length)."""
    if len(head) < 4:
        raise ValueError(f"{path}: not an IDX file: only {len(head)} bytes, shorter than "
                         "the 4-byte magic number")
    if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES or head[3] == 0:
        raise ValueError(f"{path}: bad IDX magic bytes {head[:4].hex(' ')}; expected "
                         "00 00 <type 08/09/0b/0c/0d/0e> <ndim >= 1>")
    ndim = head[3]
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need "
                         f"{header_len} header bytes, the file has {len(head)}")
    shape = tuple(int(d) for d in np.frombuffer(head, ">u4", count=ndim, offset=4))
    # NumPy refuses a shape whose nonzero dimensions multiply past its index range,
    # even when a zero dimension makes the array empty.
    if math.prod(d for d in shape if d) * _IDX_TYPES[head[2]].itemsize >= 1 << 62:
        raise ValueError(f"{path}: IDX header claims shape {shape}, too large for any "
                         "array")
    return _IDX_TYPES[head[2]], shape, header_len


def _size_error(path, shape, dtype, expected: int, actual: str) -> ValueError:
    return ValueError(f"{path}: IDX header says shape {shape} of {dtype.name} = {expected} "
                      f"data bytes, but the file holds {actual}")


def _check_claim(path, shape, dtype, max_bytes: int) -> None:
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if expected > max_bytes:
        raise ValueError(f"{path}: IDX header claims shape {shape} of {dtype.name} = "
                         f"{expected} bytes, over the {max_bytes}-byte limit")


def read_idx_header(path) -> tuple[np.dtype, tuple[int, ...]]:
    """The item type and shape an IDX file's header claims, reading only the header
    (so a dataset can check its files agree before it reads any of them).

    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9]))
    >>> read_idx_header(path)
    (dtype('uint8'), (3,))
    """
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) == 4 and head[0] == 0 and head[1] == 0:
                head += f.read(4 * head[3])
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{path}: corrupt gzip data: {e}") from None
    dtype, shape, _ = _parse_header(head, path)
    return dtype.newbyteorder("="), shape


def read_idx(path, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (gzipped when the name ends in ``.gz``) into a NumPy array.

    Multi-byte types come back in native byte order. Raises ``ValueError`` naming the
    file and the problem (for any content: bad magic bytes, a truncated file, trailing
    bytes, corrupt gzip data, a claimed size over ``max_bytes``), or the OS's
    ``FileNotFoundError`` / ``PermissionError``. The header's claimed size is checked
    against ``max_bytes`` and the file size before anything is allocated; a gzip file
    is inflated in chunks into one array of the claimed size, never past it.
    """
    path = Path(path)
    if path.suffix == ".gz":
        return _read_idx_gz(path, max_bytes)
    with open(path, "rb") as f:
        head = f.read(4 + 4 * 255)
        dtype, shape, header_len = _parse_header(head, path)
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        actual = os.fstat(f.fileno()).st_size - header_len
        if actual != expected:
            kind = "fewer (truncated)" if actual < expected else "more (trailing bytes)"
            raise _size_error(path, shape, dtype, expected, f"{actual}: {kind}")
        _check_claim(path, shape, dtype, max_bytes)
        f.seek(header_len)
        data = np.fromfile(f, dtype=dtype, count=expected // dtype.itemsize)
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _read_idx_gz(path: Path, max_bytes: int) -> np.ndarray:
    compressed_size = os.path.getsize(path)
    try:
        with gzip.open(path, "rb") as f:
            head = f.read(4)
            if len(head) == 4 and head[0] == 0 and head[1] == 0:
                head += f.read(4 * head[3])
            dtype, shape, _ = _parse_header(head, path)
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if expected > _DEFLATE_MAX_RATIO * compressed_size + _CHUNK:
                raise _size_error(path, shape, dtype, expected,
                                  f"only {compressed_size} compressed bytes, which cannot "
                                  "inflate to that much")
            _check_claim(path, shape, dtype, max_bytes)
            # Inflate in chunks straight into the array (no growing buffer, no copy),
            # then one byte more to detect trailing data.
            buf = bytearray(expected)
            view, got = memoryview(buf), 0
            while got < expected:
                n = f.readinto(view[got:got + _CHUNK])
                if not n:
                    break
                got += n
            trailing = f.read(1) if got == expected else b""
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises BadGzipFile (an OSError) for a bad header and EOFError for a
        # stream cut short: both mean a corrupt download.
        raise ValueError(f"{path}: corrupt gzip data: {e}") from None
    if got < expected:
        raise _size_error(path, shape, dtype, expected, f"{got}: fewer (truncated)")
    if trailing:
        raise _size_error(path, shape, dtype, expected,
                          f"at least {got + 1}: more (trailing bytes)")
    data = np.frombuffer(buf, dtype=dtype)
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


# --------------------------------------------------------------------------- download

class DownloadError(RuntimeError):
    """No mirror delivered a file whose SHA-256 matched."""


def _default_opener(url: str):
    import urllib.request  # lazily: it costs ~15 ms at import and is rarely needed

    return urllib.request.urlopen(url, timeout=30)


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download_file(filename: str, directory, mirrors: Sequence[str], sha256: str | None,
                  opener: Callable | None = None, max_bytes: int | None = None) -> Path:
    """Fetch ``filename`` into ``directory`` from the first mirror that serves it intact.

    Each mirror URL is ``mirror + filename``. The bytes stream into a temporary file in
    ``directory`` while their SHA-256 is computed; only a file whose hash matches is
    renamed (atomically, ``os.replace``) to its final name, so a half-written or
    tampered file never sits where a reader would find it. A failing mirror (network
    error, wrong hash, more than ``max_bytes``) is reported and the next one tried.
    ``opener(url)`` returns a readable binary file object (``urllib.request.urlopen`` by
    default; tests pass their own).
    """
    if not mirrors:
        raise ValueError(f"no mirrors to download {filename} from")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    opener = opener or _default_opener
    failures = []
    for mirror in mirrors:
        url = mirror if mirror.endswith("/") else mirror + "/"
        url += filename
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{filename}.", suffix=".part")
        try:
            h = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out, opener(url) as response:
                for block in iter(lambda r=response: r.read(_CHUNK), b""):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise DownloadError(f"more than the expected {max_bytes} bytes")
                    h.update(block)
                    out.write(block)
            if sha256 is not None and h.hexdigest() != sha256.lower():
                raise DownloadError(f"SHA-256 {h.hexdigest()} does not match the "
                                    f"published {sha256}")
            os.replace(tmp, target)
            return target
        except (OSError, DownloadError, ValueError) as e:
            failures.append(f"  {url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise DownloadError(f"could not download {filename}; every mirror failed:\n"
                        + "\n".join(failures))


def default_cache_dir(name: str) -> Path:
    """Where downloads go when no root is given: ``$XDG_CACHE_HOME/nabla/<name>``
    (``~/.cache/nabla/<name>`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    return Path(base) / "nabla" / name


# --------------------------------------------------------------------------- datasets

class MNIST(_ImageArrayDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28.

    ``root`` is the directory that holds the four IDX files (``.gz`` or uncompressed),
    either directly or in ``root/MNIST/raw`` as torchvision lays them out; None means
    the cache directory ``~/.cache/nabla/mnist``. With ``download=True`` missing files
    are fetched into ``root`` from ``mirrors`` in turn and checked against their
    published SHA-256 before they are read.

    ``ds[i]`` is ``(image, label)``: the image a float32 tensor (1, 28, 28) in [0, 1], or
    ``transform(raw)`` of the uint8 (28, 28) NumPy array when a transform is given; the
    label an ``int`` (``target_transform(label)`` when given). ``.data`` (uint8 N x 28
    x 28) and ``.targets`` (int64) hold everything; ``.arrays()`` and ``.tensors()``
    give all samples at once for full-batch training.

    >>> ds = MNIST("/nonexistent/mnist")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: MNIST training files not found. Put train-images-idx3-ubyte.gz ...
    """

    name = "MNIST"
    cache_name = "mnist"
    mirrors: tuple[str, ...] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    # The published files: SHA-256 and size in bytes (the md5s torchvision checks are
    # f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...; SHA-256 is what we verify).
    resources: dict[str, tuple[str, int]] = {
        "train-images-idx3-ubyte.gz":
            ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train-labels-idx1-ubyte.gz":
            ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "t10k-images-idx3-ubyte.gz":
            ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "t10k-labels-idx1-ubyte.gz":
            ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train: bool = True, download: bool = False,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None, *,
                 mirrors: Sequence[str] | None = None, opener: Callable | None = None):
        self.root = Path(root).expanduser() if root is not None \
            else default_cache_dir(self.cache_name)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        stem = "train" if self.train else "t10k"
        names = (f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte")
        paths = [self._find(n) for n in names]
        if any(p is None for p in paths):
            if not download:
                raise FileNotFoundError(self._missing_message(names))
            mirrors = self.mirrors if mirrors is None else tuple(mirrors)
            for i, n in enumerate(names):
                if paths[i] is None:
                    sha, size = self.resources[n + ".gz"]
                    try:
                        paths[i] = download_file(n + ".gz", self.root, mirrors, sha,
                                                 opener=opener, max_bytes=size)
                    except DownloadError as e:
                        raise DownloadError(f"{e}\nOffline? {self._missing_message(names)}"
                                            ) from None
        # Labels first (small), then the images' header against them: a file that
        # claims more images than there are labels is refused before it is inflated.
        labels = read_idx(paths[1])
        dtype, shape = read_idx_header(paths[0])
        if len(shape) != 3 or labels.ndim != 1 or shape[0] != len(labels):
            raise ValueError(f"{paths[0]} (header: shape {shape}) holds "
                             f"{shape[0] if shape else 0} images but {paths[1]} holds "
                             f"{len(labels)} labels")
        images = read_idx(paths[0])
        self._check(images, labels, paths)
        self._set_arrays(images, labels)

    def _find(self, name: str) -> Path | None:
        # Uncompressed first: it reads without inflating.
        for d in (self.root, self.root / self.name / "raw"):
            for candidate in (d / name, d / (name + ".gz")):
                if candidate.is_file():
                    return candidate
        return None

    def _missing_message(self, names) -> str:
        split = "training" if self.train else "test"
        return (f"{self.name} {split} files not found. Put {names[0]}.gz and {names[1]}.gz "
                f"(or their uncompressed versions) in {self.root.resolve()} "
                f"(or {self.root.resolve() / self.name / 'raw'}), or pass download=True. "
                f"They are published at {self.mirrors[0]}")

    def _check(self, images: np.ndarray, labels: np.ndarray, paths) -> None:
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"{paths[0]}: expected uint8 images of shape (N, H, W), got "
                             f"{images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(f"{paths[1]}: expected uint8 labels of shape (N,), got "
                             f"{labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{paths[0]} holds {len(images)} images but {paths[1]} holds "
                             f"{len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{paths[1]}: label {labels.max()} is out of range for "
                             f"{len(self.classes)} classes")

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{self.name}({split}, {len(self)} images, root={str(self.root)!r})"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing.

    Same interface as :class:`MNIST`; files in ``root`` or ``root/FashionMNIST/raw``,
    cache ``~/.cache/nabla/fashion-mnist``.
    """

    name = "FashionMNIST"
    cache_name = "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = {
        "train-images-idx3-ubyte.gz":
            ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels-idx1-ubyte.gz":
            ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "t10k-images-idx3-ubyte.gz":
            ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "t10k-labels-idx1-ubyte.gz":
            ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
