"""Saving and loading models and training checkpoints in the safetensors format.

A safetensors file is an 8-byte little-endian header length, a JSON header (each
tensor's dtype, shape and byte range, plus a ``__metadata__`` dict of strings) and the
raw tensor bytes. Loading it never runs code, unlike formats that store Python
objects. nabla keeps everything that is not a tensor (the model's architecture,
optimizer hyperparameters, epoch, step, random-generator states) as JSON in that
metadata.

Every file is written atomically: to a temporary (on Linux, unnamed) file in the same
directory, flushed, fsynced, then renamed over the target. A crash or a kill in the
middle of a save leaves the previous file intact, never a half-written one.

Every reader here raises, for any content of the file, only :class:`CheckpointError`
(a ``ValueError`` naming the file and the offending field or offset), or the OS's
``FileNotFoundError`` / ``PermissionError`` for a path it cannot open.

>>> import os, tempfile, numpy as np, nabla
>>> from nabla import io
>>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
>>> io.save({"w": nabla.ones(2, 3), "b": nabla.zeros(3)}, path, metadata={"note": "hi"})
>>> sd = io.load(path)
>>> sorted(sd), tuple(sd["w"].shape), io.read_metadata(path)["note"]
(['b', 'w'], (2, 3), 'hi')
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import sys

import numpy as np

# The safetensors dtype names NumPy can hold. BF16 and the float8 types have no NumPy
# dtype, so a file that uses them is refused with a clear message, not mis-read.
_DTYPES = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
    "U16": np.dtype(np.uint16), "I16": np.dtype(np.int16), "F16": np.dtype(np.float16),
    "U32": np.dtype(np.uint32), "I32": np.dtype(np.int32), "F32": np.dtype(np.float32),
    "U64": np.dtype(np.uint64), "I64": np.dtype(np.int64), "F64": np.dtype(np.float64),
}
_MAX_HEADER = 100_000_000  # the limit the safetensors library itself enforces

ARCH_KEY = "nabla_arch"  # metadata key of a model's architecture (JSON)
CHECKPOINT_KEY = "nabla_checkpoint"  # metadata key of a training checkpoint's state (JSON)
FORMAT_KEY = "nabla_format"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a valid safetensors file, or that does not fit the model."""


# ----------------------------------------------------------------------------- writing

_TMP_MARK = ".nabla-tmp-"  # temp names: .<target>.nabla-tmp-<pid>-<random>


def _remove_stale_temps(directory: str) -> None:
    """Remove the temp files of writers that no longer run (their pid is in the name):
    a writer killed between creating its temp name and renaming it leaves one behind."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if _TMP_MARK not in name or not name.startswith("."):
            continue
        pid = name.rsplit(_TMP_MARK, 1)[1].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that writer still runs
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue  # alive but not ours (EPERM), or not a pid at all
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))


def _open_unnamed(directory: str):
    """An fd of a new file with no name in ``directory`` (Linux ``O_TMPFILE``), or None
    where the system or file system has none. A kill before it is linked leaves
    nothing: the kernel frees a file that never had a name."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError:
        return None


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old or its new
    content, never a mixture, whatever happens during the write.

    On Linux the bytes go to an unnamed file (``O_TMPFILE``) that gets a name only
    once it is complete and on disk, so even a SIGKILL mid-write leaves no temp file.
    Elsewhere a named temp file is used, and each save removes the temp files that
    writers which no longer run left in the same directory.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> atomic_write_bytes(p, b"abc"); open(p, "rb").read()
    b'abc'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(directory)
    try:
        mode = os.stat(path).st_mode & 0o777  # a replaced file keeps its mode
    except FileNotFoundError:
        mode = None  # a new file gets 0o666 less the umask, as open() would give it
    tmp = os.path.join(directory, f".{os.path.basename(path)}{_TMP_MARK}{os.getpid()}-"
                                  f"{os.urandom(6).hex()}")
    fd = _open_unnamed(directory)
    unnamed = fd is not None
    if not unnamed:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
            if unnamed:
                # linkat cannot replace a name: link to the unique temp name, then
                # rename over the target at once (a window of two system calls; the
                # file is closed after the rename, so that its close is not in it).
                _link_fd(f.fileno(), tmp)
                os.replace(tmp, path)
        if not unnamed:
            os.replace(tmp, path)  # after the close: Windows renames no open file
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Persist the rename itself (the directory entry); not possible everywhere.
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _link_fd(fd: int, name: str) -> None:
    """Give the unnamed file ``fd`` the name ``name``: ``linkat`` of /proc/self/fd/N
    with AT_SYMLINK_FOLLOW (unprivileged, unlike AT_EMPTY_PATH). ``os.link`` does not
    pass that flag on every Python version, hence ctypes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    if libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd,
                   os.fsencode(name), at_symlink_follow) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), name)


def _array(value, name: str) -> np.ndarray:
    from ..tensor import Tensor

    if isinstance(value, Tensor):
        value = value._data
    if not isinstance(value, np.ndarray):
        raise TypeError(f"cannot save {name!r}: expected a Tensor or NumPy array, got "
                        f"{type(value).__name__}")
    if value.dtype not in _DTYPES.values():
        raise TypeError(f"cannot save {name!r}: dtype {value.dtype} has no safetensors "
                        "equivalent")
    # Not np.ascontiguousarray: it turns a 0-d array into a 1-d one.
    return value if value.flags.c_contiguous else value.copy(order="C")


def _check_metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of str to str, got {type(metadata).__name__}")
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"metadata must map str to str (json.dumps other values), got "
                            f"{k!r}: {type(v).__name__}")
    return dict(metadata)


def _serialize(arrays: dict, metadata: dict) -> bytes:
    import safetensors.numpy

    return safetensors.numpy.save(arrays, metadata=metadata or None)


def save(obj, path, metadata: dict | None = None) -> None:
    """Save a model's weights, or a state dict, to a safetensors file (atomically).

    ``obj`` is a ``nabla.nn.Module`` (its ``state_dict()`` is saved) or a dict of names
    to Tensors / NumPy arrays. ``metadata`` is a dict of strings stored in the header.
    A model built by ``nabla.models`` also records its architecture (``nabla_arch``),
    so ``load_model`` can rebuild it from the file alone.

    >>> import os, tempfile, nabla
    >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save({"x": nabla.arange(4)}, p); load(p)["x"].tolist()
    [0, 1, 2, 3]
    """
    meta = {FORMAT_KEY: "model"}
    arch = getattr(obj, "_nabla_arch", None)
    if arch is not None:
        meta[ARCH_KEY] = json.dumps(arch, sort_keys=True)
    meta.update(_check_metadata(metadata))
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, dict):
        raise TypeError(f"save expects a Module or a dict of tensors, got {type(obj).__name__}")
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}")
        arrays[name] = _array(value, name)
    atomic_write_bytes(path, _serialize(arrays, meta))


# ----------------------------------------------------------------------------- reading

_MAX_DEPTH = 64  # JSON nesting: nabla's own files use under 10 levels


def _depth_ok(obj) -> bool:
    """Whether ``obj`` (decoded JSON) nests at most ``_MAX_DEPTH`` levels; iterative,
    so a deep value cannot exhaust the stack here or in the code that walks it later."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True


def _json(text, path, what: str):
    """Decode JSON found in a file; every failure becomes a CheckpointError naming it."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise CheckpointError(f"{path}: {what} nests deeper than {_MAX_DEPTH} levels") from None
    except MemoryError:
        raise CheckpointError(f"{path}: {what} is too large to decode") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: {what} is not valid JSON ({e})") from None
    if not _depth_ok(value):
        raise CheckpointError(f"{path}: {what} nests deeper than {_MAX_DEPTH} levels")
    return value


def _open(path):
    """An open binary file and its size; a directory or a device is refused (reading
    a FIFO would block forever)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a directory, not a safetensors file")
    # O_NONBLOCK: opening a FIFO must not wait for a writer. FileNotFoundError and
    # PermissionError pass through unchanged.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise CheckpointError(f"{path}: not a regular file")
    return os.fdopen(fd, "rb"), st.st_size


def _read_header(path) -> tuple[dict, dict, int, int]:
    """Parse only the header: ``(entries, metadata, data_start, file_size)``. Memory in
    proportion to the header, whatever the file claims."""
    f, size = _open(path)
    with f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        body = f.read(n) if 0 <= n <= min(_MAX_HEADER, size - 8) else b""
    entries, metadata, start = parse_header(head + body, os.fspath(path), file_size=size)
    return entries, metadata, start, size


def _read(path) -> bytearray:
    f, size = _open(path)
    with f:
        try:
            buf = bytearray(size)
        except MemoryError:
            raise CheckpointError(f"{os.fspath(path)}: the file's {size} bytes do not fit in "
                                  "memory") from None
        got = f.readinto(buf)
    if got != size:
        raise CheckpointError(f"{os.fspath(path)}: the file changed size while being read")
    return buf


def parse_header(buf, path="<bytes>", *, file_size: int | None = None
                 ) -> tuple[dict, dict, int]:
    """Check the structure of a safetensors file and return ``(entries, metadata,
    data_start)``; raise :class:`CheckpointError` naming the first problem found.

    ``entries`` maps each tensor name to ``(dtype, shape, begin, end)`` with offsets
    relative to ``data_start``. Everything is checked before any tensor is decoded, so
    a damaged file gives a precise message rather than a crash deep in a decoder.
    ``buf`` is the whole file, or its first bytes (at least the header) when
    ``file_size`` gives the size of the whole.

    >>> parse_header(b"\\x05\\x00\\x00\\x00\\x00\\x00\\x00\\x00{}")
    Traceback (most recent call last):
    ...
    nabla.io.checkpoint.CheckpointError: <bytes>: header length 5 is larger than the 2 bytes ...
    """
    size = len(buf) if file_size is None else file_size
    if size < 8 or len(buf) < 8:
        raise CheckpointError(f"{path}: file is {size} bytes, too short for a "
                              "safetensors header (8-byte length first)")
    n = int.from_bytes(bytes(buf[:8]), "little")
    if n > size - 8:
        raise CheckpointError(f"{path}: header length {n} is larger than the {size - 8} "
                              "bytes that follow it; the file is truncated or not safetensors")
    if n > _MAX_HEADER:
        raise CheckpointError(f"{path}: header length {n} exceeds the {_MAX_HEADER}-byte limit")
    if len(buf) < 8 + n:
        raise CheckpointError(f"{path}: only {len(buf)} bytes given for a {n}-byte header")
    try:
        text = bytes(buf[8:8 + n]).decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: header is not valid JSON (not UTF-8 at byte "
                              f"{8 + e.start})") from None
    header = _json(text, path, "header")
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header must be a JSON object, got "
                              f"{type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise CheckpointError(f"{path}: __metadata__ must map strings to strings")
    data_start, data_len = 8 + n, size - 8 - n
    entries = {}
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise CheckpointError(f"{path}: tensor {name!r} needs dtype, shape and "
                                  f"data_offsets, got {_short(info)}")
        code = info["dtype"]
        dtype = _DTYPES.get(code) if isinstance(code, str) else None
        if dtype is None:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {_short(code)}, "
                                  f"which NumPy cannot hold (known: {', '.join(_DTYPES)})")
        shape, offsets = info["shape"], info["data_offsets"]
        if not isinstance(shape, list) or len(shape) > _MAX_DEPTH or not all(
                type(d) is int and d >= 0 for d in shape):
            raise CheckpointError(f"{path}: tensor {name!r} has an invalid shape "
                                  f"{_short(shape)}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(type(o) is int for o in offsets)):
            raise CheckpointError(f"{path}: tensor {name!r} has invalid data_offsets "
                                  f"{_short(offsets)} (expected [begin, end])")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise CheckpointError(f"{path}: tensor {name!r} has data_offsets [{begin}, {end}] "
                                  f"out of range of the {data_len}-byte data section")
        nbytes = math.prod(shape) * dtype.itemsize
        if end - begin != nbytes:
            raise CheckpointError(f"{path}: tensor {name!r} is {code} of shape "
                                  f"{tuple(shape)} ({nbytes} bytes) but its data_offsets "
                                  f"[{begin}, {end}] span {end - begin} bytes")
        entries[name] = (dtype, tuple(shape), begin, end)
    # The tensors must tile the data section exactly: no overlap, no hole, nothing after.
    pos, prev = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda e: e[1][2:]):
        if begin < pos:
            raise CheckpointError(f"{path}: tensors {prev!r} and {name!r} overlap "
                                  f"(byte {begin} < {pos})")
        if begin > pos:
            raise CheckpointError(f"{path}: {begin - pos} unused bytes before tensor "
                                  f"{name!r} (at data offset {pos})")
        pos, prev = end, name
    if pos != data_len:
        raise CheckpointError(f"{path}: {data_len - pos} trailing bytes after the last "
                              "tensor")
    return entries, metadata, data_start


def _short(value, limit: int = 80) -> str:
    return _clip(repr(value), limit)


def _clip(text: str, limit: int = 200) -> str:
    """Text from a file, cut short so that a message stays one readable line."""
    return text if len(text) <= limit else text[:limit] + "..."


def _load_bytes(buf, path) -> tuple[dict, dict]:
    """Decode every tensor as a view of ``buf`` (a bytearray: the arrays are writable
    and nothing is copied, except tensors that sit at unaligned offsets)."""
    entries, metadata, start = parse_header(buf, path)
    arrays = {}
    for name, (dtype, shape, begin, _) in entries.items():
        count = math.prod(shape)
        if count == 0:
            a = np.zeros(shape, dtype)
        else:
            little = dtype if sys.byteorder == "little" else dtype.newbyteorder("<")
            a = np.frombuffer(buf, little, count, start + begin).reshape(shape)
            if dtype == np.bool_:
                a = a.view(np.uint8) != 0  # a byte other than 0/1 is still a valid bool
            elif not a.flags.aligned or little is not dtype:
                a = a.astype(dtype)  # unaligned arrays are slow; big-endian hosts swap
        arrays[name] = a
    return arrays, metadata


def load_file(path) -> tuple[dict, dict]:
    """The NumPy arrays and the metadata of a safetensors file: ``(arrays, metadata)``.

    Raises :class:`CheckpointError` for any malformed content, ``FileNotFoundError`` /
    ``PermissionError`` for a path that cannot be opened.

    >>> import os, tempfile, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.safetensors")
    >>> save({"a": np.eye(2)}, p, metadata={"k": "v"})
    >>> arrays, meta = load_file(p); arrays["a"].dtype, meta["k"]
    (dtype('float64'), 'v')
    """
    return _load_bytes(_read(path), os.fspath(path))


def load(path) -> dict:
    """The tensors of a safetensors file as a dict of names to nabla Tensors.

    Raises ``FileNotFoundError`` / ``PermissionError`` for a path that cannot be opened
    and :class:`CheckpointError` (a ``ValueError``) for malformed content. Nothing in
    the file is ever executed.
    """
    from ..creation import from_numpy

    arrays, _ = load_file(path)
    return {name: from_numpy(a) for name, a in arrays.items()}


def read_metadata(path) -> dict:
    """The ``__metadata__`` strings of a safetensors file, after checking its header
    (only the header is read). Errors as :func:`load`."""
    return _read_header(path)[1]


def _check_model(model, arrays: dict, path, prefix: str = "") -> dict:
    """Check that ``arrays`` (names without ``prefix``) hold exactly the model's names,
    shapes and numeric dtypes; return the dict to load."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in arrays]
    unexpected = [k for k in arrays if k not in expected]
    if missing:
        raise CheckpointError(f"{path}: missing keys for {type(model).__name__}: "
                              f"{', '.join(prefix + k for k in missing)}")
    if unexpected:
        raise CheckpointError(f"{path}: unexpected keys for {type(model).__name__}: "
                              f"{', '.join(prefix + k for k in unexpected)}")
    for k, ref in expected.items():
        got = tuple(arrays[k].shape)
        if got != tuple(ref.shape):
            raise CheckpointError(f"{path}: tensor {prefix + k!r} has shape {got}, the model "
                                  f"expects {tuple(ref.shape)}")
        want = ref._data.dtype
        if want.kind == "f" and arrays[k].dtype.kind != "f":
            raise CheckpointError(f"{path}: tensor {prefix + k!r} is {arrays[k].dtype}, the "
                                  f"model expects {want}")
    return {k: arrays[k] for k in expected}


def _fit_model(model, arrays: dict, path, prefix: str = "") -> None:
    """Load ``arrays`` into ``model`` after :func:`_check_model`."""
    from ..creation import from_numpy

    checked = _check_model(model, arrays, path, prefix)
    model.load_state_dict({k: from_numpy(a) for k, a in checked.items()})


def _architecture(metadata: dict, entries: dict, path):
    """The recorded architecture, checked against the file's tensor names and shapes
    (``entries``: name -> shape) before anything is built."""
    arch = metadata.get(ARCH_KEY)
    if arch is None:
        raise CheckpointError(f"{path}: no architecture recorded (metadata key {ARCH_KEY!r}); "
                              "it holds bare weights: build the model in Python and use "
                              "model.load_state_dict(nabla.io.load(path))")
    arch = _json(arch, path, "architecture metadata")
    from .. import models

    try:
        shapes = models.expected_shapes(arch)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the recorded architecture "
                              f"{_short(arch)}: {e}") from None
    if shapes is not None:
        who = f"the recorded architecture {arch['builder']!r}"
        missing = [k for k in shapes if k not in entries]
        unexpected = [k for k in entries if k not in shapes]
        if missing:
            raise CheckpointError(f"{path}: missing keys for {who}: "
                                  f"{_clip(', '.join(missing))}")
        if unexpected:
            raise CheckpointError(f"{path}: unexpected keys for {who}: "
                                  f"{_clip(', '.join(unexpected))}")
        for k, shape in shapes.items():
            if tuple(entries[k]) != tuple(shape):
                raise CheckpointError(f"{path}: tensor {k!r} has shape {tuple(entries[k])}, "
                                      f"the model expects {tuple(shape)} ({who})")
    return arch


def _model_entries(entries: dict, metadata: dict) -> dict:
    """The model's tensor names and shapes (a checkpoint prefixes them with model.)."""
    shapes = {k: e[1] for k, e in entries.items()}
    if metadata.get(FORMAT_KEY) == "checkpoint":
        shapes = {k[len("model."):]: v for k, v in shapes.items() if k.startswith("model.")}
    return shapes


def load_model(path, *, return_metadata: bool = False):
    """Rebuild a model saved by :func:`save` from its recorded architecture and load
    its weights. The architecture is a builder name from ``nabla.models`` plus keyword
    arguments, stored as JSON: loading a model never executes code from the file. The
    file's tensor names and shapes are checked against the architecture before the
    model is built, so memory stays in proportion to the file.

    With ``return_metadata=True`` returns ``(model, metadata)``. Errors as :func:`load`.

    >>> import os, tempfile, nabla
    >>> from nabla import models
    >>> p = os.path.join(tempfile.mkdtemp(), "mlp.safetensors")
    >>> save(models.mlp(4, hidden=(8,), out_features=3), p)
    >>> m = load_model(p); type(m).__name__, m._nabla_arch["builder"]
    ('Sequential', 'mlp')
    """
    entries, metadata, _, _ = _read_header(path)
    arch = _architecture(metadata, _model_entries(entries, metadata), path)
    arrays, metadata = load_file(path)
    if metadata.get(FORMAT_KEY) == "checkpoint":
        arrays = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    from .. import models

    try:
        model = models.build(arch)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the recorded architecture "
                              f"{_short(arch)}: {e}") from None
    _fit_model(model, arrays, path)
    return (model, metadata) if return_metadata else model


# ------------------------------------------------------------------- training checkpoints

def _encode(obj, prefix: str, arrays: dict):
    """Nested Python data with tensors -> JSON-able data; tensors go to ``arrays``
    under dotted names built from their position (``optim.state.0.exp_avg``)."""
    from ..tensor import Tensor

    if isinstance(obj, (Tensor, np.ndarray)):
        if prefix in arrays:
            raise ValueError(f"two values would be stored under the same name {prefix!r}")
        arrays[prefix] = _array(obj, prefix)
        return {"__tensor__" if isinstance(obj, Tensor) else "__ndarray__": prefix}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        # Standard JSON has no NaN/Infinity; spell them out so any reader copes.
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{prefix}.{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{prefix}.{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, f"{prefix}.{k}", arrays) for k, v in obj.items()}
        # Non-string keys (an optimizer's parameter indices) would turn into strings.
        return {"__dict__": [[_encode(k, f"{prefix}.key", arrays),
                              _encode(v, f"{prefix}.{k}", arrays)] for k, v in obj.items()]}
    raise TypeError(f"cannot store a {type(obj).__name__} at {prefix!r} in a checkpoint "
                    "(only tensors, arrays, numbers, strings, None, lists, tuples, dicts)")


def _decode(obj, arrays: dict, path, where: str = "checkpoint"):
    """The inverse of :func:`_encode`; anything malformed is a CheckpointError naming
    where in the checkpoint metadata it sits (the depth was bounded by :func:`_json`)."""
    from ..creation import from_numpy

    if isinstance(obj, list):
        return [_decode(v, arrays, path, f"{where}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag in ("__tensor__", "__ndarray__"):
            if not isinstance(value, str) or value not in arrays:
                raise CheckpointError(f"{path}: {where} names a missing tensor "
                                      f"{_short(value)}")
            a = arrays[value]
            return from_numpy(a) if tag == "__tensor__" else a
        if tag == "__float__":
            if value not in ("nan", "inf", "-inf"):
                raise CheckpointError(f"{path}: {where} holds an invalid float "
                                      f"{_short(value)} (expected nan, inf or -inf)")
            return float(value)
        if tag == "__tuple__":
            if not isinstance(value, list):
                raise CheckpointError(f"{path}: {where} holds an invalid tuple {_short(value)}")
            return tuple(_decode(v, arrays, path, f"{where}[{i}]") for i, v in enumerate(value))
        if tag == "__dict__":
            if not isinstance(value, list) or not all(
                    isinstance(kv, list) and len(kv) == 2 for kv in value):
                raise CheckpointError(f"{path}: {where} holds an invalid dict {_short(value)}")
            out = {}
            for k, v in value:
                key = _decode(k, arrays, path, f"{where}.key")
                if not isinstance(key, (int, float, str, bool, type(None))):
                    raise CheckpointError(f"{path}: {where} has an invalid key {_short(k)}")
                out[key] = _decode(v, arrays, path, f"{where}.{key}")
            return out
    return {k: _decode(v, arrays, path, f"{where}.{k}") for k, v in obj.items()}


def _callback_states(callbacks) -> list:
    """``[[class name, state], ...]`` of the callbacks that have a state to keep."""
    return [[type(cb).__name__, cb.state_dict()] for cb in callbacks or ()
            if hasattr(cb, "state_dict")]


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, epoch: int = 0,
                    step: int = 0, rng: bool = True, generator=None,
                    extra: dict | None = None, metadata: dict | None = None,
                    callbacks=None) -> None:
    """Save everything needed to resume training exactly, atomically, in one file.

    The file holds the model's tensors (``model.<name>``), the optimizer's state
    tensors (``optim.state.<index>.<key>``) and, as JSON metadata, the optimizer's
    other state (param_groups, step counts), the scheduler's state, ``epoch``, ``step``,
    nabla's global random state (with ``rng=True``), the state of ``generator``
    (e.g. the DataLoader's ``Generator``; a DataLoader is accepted too) and the
    ``state_dict()`` of each of ``callbacks`` (EarlyStopping's patience count and
    best value, ModelCheckpoint's best, ...). ``extra`` is any nested data of numbers,
    strings, lists, dicts and tensors; ``metadata`` (str to str) goes into the header
    as in :func:`save`. A model built by ``nabla.models`` records its architecture, so
    ``load_model`` also reads the model out of a checkpoint.

    >>> import os, tempfile, nabla
    >>> from nabla import models, optim
    >>> m = models.mlp(4, hidden=(8,), out_features=2)
    >>> opt = optim.SGD(m.parameters(), lr=0.1)
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> save_checkpoint(p, m, opt, epoch=3, step=30)
    >>> info = load_checkpoint(p, m, opt); info["epoch"], info["step"]
    (3, 30)
    """
    from .. import random as _random

    arrays: dict = {}
    for name, value in model.state_dict().items():
        arrays["model." + name] = _array(value, name)
    state = {"version": CHECKPOINT_VERSION, "epoch": int(epoch), "step": int(step)}
    if optimizer is not None:
        state["optimizer"] = _encode(optimizer.state_dict(), "optim", arrays)
    if scheduler is not None:
        state["scheduler"] = _encode(scheduler.state_dict(), "sched", arrays)
    if rng:
        state["rng"] = _random.get_rng_state()
    generator = getattr(generator, "generator", generator)  # a DataLoader -> its generator
    if generator is not None:
        state["generator"] = generator.get_state()
    if callbacks is not None:
        state["callbacks"] = _encode(_callback_states(callbacks), "callbacks", arrays)
    if extra is not None:
        state["extra"] = _encode(extra, "extra", arrays)
    meta = _check_metadata(metadata)
    meta.update({FORMAT_KEY: "checkpoint", CHECKPOINT_KEY: json.dumps(state)})
    arch = getattr(model, "_nabla_arch", None)
    if arch is not None:
        meta[ARCH_KEY] = json.dumps(arch, sort_keys=True)
    atomic_write_bytes(path, _serialize(arrays, meta))


_STATE_TYPES = {"optimizer": dict, "scheduler": dict, "rng": dict, "generator": dict,
                "callbacks": list, "extra": dict}


def read_checkpoint(path) -> tuple[dict, dict, dict]:
    """``(state, arrays, metadata)`` of a checkpoint file, checked but not applied:
    ``state`` is the decoded JSON (epoch, step, optimizer, scheduler, rng, callbacks,
    extra). Every tensor it names exists, counters are non-negative integers, the
    random states are valid. Errors as :func:`load`."""
    arrays, metadata = load_file(path)
    raw = metadata.get(CHECKPOINT_KEY)
    if raw is None:
        raise CheckpointError(f"{path}: not a training checkpoint (no {CHECKPOINT_KEY!r} "
                              "metadata); a model file loads with nabla.io.load_model")
    state = _json(raw, path, "checkpoint metadata")
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        version = state.get("version") if isinstance(state, dict) else state
        raise CheckpointError(f"{path}: unsupported checkpoint version {_short(version)}")
    for key in ("epoch", "step"):
        if type(state.get(key)) is not int or state[key] < 0:
            raise CheckpointError(f"{path}: checkpoint metadata lacks a non-negative integer "
                                  f"{key!r}")
    for key, kind in _STATE_TYPES.items():
        if key in state and not isinstance(state[key], kind):
            raise CheckpointError(f"{path}: checkpoint entry {key!r} must be a "
                                  f"{kind.__name__}, got {_short(state[key])}")
    for key in ("optimizer", "scheduler", "callbacks", "extra"):
        if key in state:
            _decode(state[key], arrays, path, key)  # every tensor named exists
    for key in ("rng", "generator"):
        if key in state:
            _trial_generator(state[key], path, key)
    return state, arrays, metadata


def _history_problem(d) -> str | None:
    """Whether ``d`` is a history (``fit``'s ``History.to_dict()``): columns of numbers
    of one length. Checked here because io must not import train (train imports io)."""
    if not isinstance(d, dict):
        return f"expected a dict of columns, got {type(d).__name__}"
    lengths = set()
    for key, column in d.items():
        if not isinstance(column, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in column):
            return f"column {key!r} must be a list of numbers"
        lengths.add(len(column))
    if len(lengths) > 1:
        return f"columns have different lengths {sorted(lengths)}"
    return None


def _trial_generator(state, path, key: str):
    """A fresh Generator set to ``state``: proves the state valid without touching any
    generator in use."""
    from ..random import Generator

    if not isinstance(state, dict) or set(state) != {"seed", "bit_generator"} \
            or type(state["seed"]) is not int or state["seed"] < 0:
        raise CheckpointError(f"{path}: checkpoint entry {key!r} is not a generator state "
                              "(expected seed and bit_generator)")
    try:
        g = Generator()
        g.set_state(state)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CheckpointError(f"{path}: checkpoint entry {key!r} is not a valid generator "
                              f"state ({type(e).__name__}: {_clip(str(e))})") from None
    return g


def _same_kind(saved, current) -> bool:
    """Whether a saved value can stand where ``current`` stands: numbers for numbers,
    strings for strings, sequences of the same length, dicts with the same keys."""
    if current is None:  # not set yet (a best value, saved weights): the owner checks
        return True
    if saved is None:
        return isinstance(current, (int, float, str))
    if isinstance(current, bool) or isinstance(saved, bool):
        return isinstance(saved, bool) and isinstance(current, bool)
    if isinstance(current, (int, float)):
        return isinstance(saved, (int, float))
    if isinstance(current, str):
        return isinstance(saved, str)
    if isinstance(current, (list, tuple)):
        return isinstance(saved, (list, tuple)) and len(saved) == len(current) and all(
            _same_kind(a, b) for a, b in zip(saved, current))
    if isinstance(current, dict):
        return isinstance(saved, dict) and set(saved) == set(current) and all(
            _same_kind(saved[k], current[k]) for k in current)
    from ..tensor import Tensor

    if isinstance(current, (Tensor, np.ndarray)):
        return isinstance(saved, (Tensor, np.ndarray)) and saved.shape == current.shape
    return type(saved) is type(current)


def _check_optimizer(optimizer, saved, path):
    """Load ``saved`` into a throw-away copy of ``optimizer`` and check what it would
    hold: every hyperparameter of the kind the optimizer uses, every state entry a
    tensor shaped like its parameter (``step`` a scalar)."""
    import copy
    from collections import defaultdict

    from ..tensor import Tensor

    trial = copy.copy(optimizer)
    trial.param_groups = [dict(g) for g in optimizer.param_groups]
    trial.state = defaultdict(dict)
    try:
        trial.load_state_dict(saved)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: the optimizer state does not fit "
                              f"{type(optimizer).__name__} ({type(e).__name__}: "
                              f"{_clip(str(e))})") from None
    for i, (g, s) in enumerate(zip(optimizer.param_groups, trial.param_groups)):
        for key, value in g.items():
            if key in ("params", "param_names"):
                continue
            if key not in s or not _same_kind(s[key], value):
                raise CheckpointError(f"{path}: optimizer param_groups[{i}][{key!r}] is "
                                      f"{_short(s.get(key, '<missing>'))}, expected a value "
                                      f"like {_short(value)}")
    params = {id(p) for g in optimizer.param_groups for p in g["params"]}
    for p, entry in trial.state.items():
        if not isinstance(p, Tensor) or id(p) not in params:
            raise CheckpointError(f"{path}: optimizer state has an entry for "
                                  f"{_short(p)}, which is no parameter")
        for name, value in entry.items():
            shape = () if name == "step" else tuple(p.shape)
            if value is None and name != "step":
                continue
            if not isinstance(value, Tensor) or tuple(value.shape) != shape \
                    or value._data.dtype.kind != "f":
                got = (f"{value._data.dtype} of shape {tuple(value.shape)}"
                       if isinstance(value, Tensor) else type(value).__name__)
                raise CheckpointError(f"{path}: optimizer state {name!r} of a parameter of "
                                      f"shape {tuple(p.shape)} is {got}, expected a float "
                                      f"tensor of shape {shape}")


def _check_state_dict(obj, saved, path, what: str):
    """``saved`` must have the keys and kinds of ``obj.state_dict()`` (a scheduler's or
    a callback's ``load_state_dict`` sets attributes: a stray key could shadow a method)."""
    current = obj.state_dict()
    if not isinstance(saved, dict) or set(saved) != set(current):
        have = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"{path}: the {what} state has keys {_short(have)}, "
                              f"{type(obj).__name__} has {sorted(current)}")
    for key, value in current.items():
        if not _same_kind(saved[key], value):
            raise CheckpointError(f"{path}: {what} state {key!r} is {_short(saved[key])}, "
                                  f"expected a value like {_short(value)}")


def match_callback_states(callbacks, states, path="<checkpoint>") -> list:
    """Pair each callback with its saved state: the k-th saved state of a class goes
    to the k-th callback of that class. Returns ``[(callback, state), ...]`` after
    checking each state against the callback's own ``state_dict()``."""
    if not isinstance(states, list) or not all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in states):
        raise CheckpointError(f"{path}: the callbacks state must be a list of "
                              "[class name, state] pairs")
    by_class: dict = {}
    for name, state in states:
        by_class.setdefault(name, []).append(state)
    pairs = []
    for cb in callbacks:
        if not hasattr(cb, "load_state_dict"):
            continue
        queue = by_class.get(type(cb).__name__)
        if not queue:
            continue  # a callback new in this run starts fresh
        state = queue.pop(0)
        _check_state_dict(cb, state, path, type(cb).__name__)
        pairs.append((cb, state))
    return pairs


def load_checkpoint(path, model, optimizer=None, scheduler=None, *, generator=None,
                    restore_rng: bool = True, callbacks=None) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint` into fresh objects.

    Loads the model's weights, the optimizer's and scheduler's state where given,
    nabla's global random state (``restore_rng``), ``generator``'s state (a
    ``Generator`` or a DataLoader) and the state of ``callbacks``. Returns a dict with
    ``epoch``, ``step``, ``extra``, ``callbacks`` (the saved callback states, for
    ``fit(..., callback_states=...)``) and the file's ``metadata``.

    Everything is checked first (the model's names and shapes, the optimizer's and
    scheduler's state against the objects, the random states, the counters), then
    applied: a bad file raises :class:`CheckpointError` and leaves every object and the
    global random state as they were. Errors as :func:`load`.
    """
    from .. import random as _random

    state, arrays, metadata = read_checkpoint(path)
    model_arrays = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    checked = _check_model(model, model_arrays, path, prefix="model.")
    optim_state = sched_state = None
    if optimizer is not None:
        if "optimizer" not in state:
            raise CheckpointError(f"{path}: the checkpoint holds no optimizer state")
        optim_state = _decode(state["optimizer"], arrays, path, "optimizer")
        _check_optimizer(optimizer, optim_state, path)
    if scheduler is not None:
        if "scheduler" not in state:
            raise CheckpointError(f"{path}: the checkpoint holds no scheduler state")
        sched_state = _decode(state["scheduler"], arrays, path, "scheduler")
        _check_state_dict(scheduler, sched_state, path, "scheduler")
    generator = getattr(generator, "generator", generator)
    if generator is not None and "generator" not in state:
        raise CheckpointError(f"{path}: the checkpoint holds no generator state")
    cb_states = _decode(state.get("callbacks", []), arrays, path, "callbacks")
    pairs = match_callback_states(callbacks or (), cb_states, path)
    extra = _decode(state["extra"], arrays, path, "extra") if "extra" in state else None
    if isinstance(extra, dict) and "history" in extra:
        problem = _history_problem(extra["history"])
        if problem:
            raise CheckpointError(f"{path}: the saved history is invalid ({problem})")

    # Everything is checked: apply.
    from ..creation import from_numpy

    model.load_state_dict({k: from_numpy(a) for k, a in checked.items()})
    if optimizer is not None:
        optimizer.load_state_dict(optim_state)
    if scheduler is not None:
        scheduler.load_state_dict(sched_state)
    if restore_rng and "rng" in state:
        _random.set_rng_state(state["rng"])
    if generator is not None:
        generator.set_state(state["generator"])
    for cb, cb_state in pairs:
        cb.load_state_dict(cb_state)
    return {"epoch": state["epoch"], "step": state["step"], "extra": extra,
            "callbacks": cb_states, "metadata": metadata}
