"""Saving and loading models and training checkpoints in the safetensors format.

A safetensors file is an 8-byte little-endian header length, a JSON header (each
tensor's dtype, shape and byte range, plus a ``__metadata__`` dict of strings) and the
raw tensor bytes. Loading it never runs code, unlike formats that store Python
objects. nabla keeps everything that is not a tensor (the model's architecture,
optimizer hyperparameters, epoch, step, random-generator states) as JSON in that
metadata.

Every file is written atomically: to a temporary file in the same directory, flushed,
fsynced, then renamed over the target. A crash or a kill in the middle of a save leaves
the previous file intact, never a half-written one.

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
import tempfile

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

def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old or its new
    content, never a mixture, whatever happens during the write.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> atomic_write_bytes(p, b"abc"); open(p, "rb").read()
    b'abc'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # Same directory, so os.replace is a rename within one file system (atomic).
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        # mkstemp makes the file 0600; give it the mode an ordinary new file would get.
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
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

def _read(path) -> bytes:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a directory, not a safetensors file")
    with open(path, "rb") as f:  # FileNotFoundError passes through unchanged
        return f.read()


def parse_header(buf: bytes, path="<bytes>") -> tuple[dict, dict, int]:
    """Check the structure of a safetensors file and return ``(entries, metadata,
    data_start)``; raise :class:`CheckpointError` naming the first problem found.

    ``entries`` maps each tensor name to ``(dtype, shape, begin, end)`` with offsets
    relative to ``data_start``. Everything is checked before any tensor is decoded, so
    a damaged file gives a precise message rather than a crash deep in a decoder.

    >>> parse_header(b"\\x05\\x00\\x00\\x00\\x00\\x00\\x00\\x00{}")
    Traceback (most recent call last):
    ...
    nabla.io.checkpoint.CheckpointError: <bytes>: header length 5 is larger than the 2 bytes ...
    """
    if len(buf) < 8:
        raise CheckpointError(f"{path}: file is {len(buf)} bytes, too short for a "
                              "safetensors header (8-byte length first)")
    n = int.from_bytes(buf[:8], "little")
    if n > len(buf) - 8:
        raise CheckpointError(f"{path}: header length {n} is larger than the {len(buf) - 8} "
                              "bytes that follow it; the file is truncated or not safetensors")
    if n > _MAX_HEADER:
        raise CheckpointError(f"{path}: header length {n} exceeds the {_MAX_HEADER}-byte limit")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header must be a JSON object, got "
                              f"{type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise CheckpointError(f"{path}: __metadata__ must map strings to strings")
    data_start, data_len = 8 + n, len(buf) - 8 - n
    entries = {}
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise CheckpointError(f"{path}: tensor {name!r} needs dtype, shape and "
                                  f"data_offsets, got {info!r}")
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {info['dtype']!r}, "
                                  f"which NumPy cannot hold (known: {', '.join(_DTYPES)})")
        shape, offsets = info["shape"], info["data_offsets"]
        if not isinstance(shape, list) or not all(
                type(d) is int and d >= 0 for d in shape):
            raise CheckpointError(f"{path}: tensor {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(type(o) is int for o in offsets)):
            raise CheckpointError(f"{path}: tensor {name!r} has invalid data_offsets "
                                  f"{offsets!r} (expected [begin, end])")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise CheckpointError(f"{path}: tensor {name!r} has data_offsets [{begin}, {end}] "
                                  f"out of range of the {data_len}-byte data section")
        nbytes = math.prod(shape) * dtype.itemsize
        if end - begin != nbytes:
            raise CheckpointError(f"{path}: tensor {name!r} is {info['dtype']} of shape "
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


def _load_bytes(buf: bytes, path) -> tuple[dict, dict]:
    entries, metadata, _ = parse_header(buf, path)
    import safetensors.numpy

    try:
        arrays = safetensors.numpy.load(buf)
    except Exception as e:  # noqa: BLE001 - whatever the decoder says, name the file
        raise CheckpointError(f"{path}: safetensors could not decode the file ({e})") from None
    if set(arrays) != set(entries):
        raise CheckpointError(f"{path}: decoded tensors differ from the header")
    return arrays, metadata


def load_file(path) -> tuple[dict, dict]:
    """The NumPy arrays and the metadata of a safetensors file: ``(arrays, metadata)``.

    >>> import os, tempfile, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.safetensors")
    >>> save({"a": np.eye(2)}, p, metadata={"k": "v"})
    >>> arrays, meta = load_file(p); arrays["a"].dtype, meta["k"]
    (dtype('float64'), 'v')
    """
    return _load_bytes(_read(path), os.fspath(path))


def load(path) -> dict:
    """The tensors of a safetensors file as a dict of names to nabla Tensors.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` (a
    ``ValueError``) for a malformed one. Nothing in the file is ever executed.
    """
    from ..creation import from_numpy

    arrays, _ = load_file(path)
    return {name: from_numpy(a) for name, a in arrays.items()}


def read_metadata(path) -> dict:
    """The ``__metadata__`` strings of a safetensors file (after checking the file)."""
    _, metadata, _ = parse_header(_read(path), os.fspath(path))
    return metadata


def _fit_model(model, arrays: dict, path, prefix: str = "") -> None:
    """Load ``arrays`` (names without ``prefix``) into ``model`` after checking that
    the names and shapes are exactly those of the model."""
    from ..creation import from_numpy

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
    model.load_state_dict({k: from_numpy(arrays[k]) for k in expected})


def load_model(path, *, return_metadata: bool = False):
    """Rebuild a model saved by :func:`save` from its recorded architecture and load
    its weights. The architecture is a builder name from ``nabla.models`` plus keyword
    arguments, stored as JSON: loading a model never executes code from the file.

    With ``return_metadata=True`` returns ``(model, metadata)``.

    >>> import os, tempfile, nabla
    >>> from nabla import models
    >>> p = os.path.join(tempfile.mkdtemp(), "mlp.safetensors")
    >>> save(models.mlp(4, hidden=(8,), out_features=3), p)
    >>> m = load_model(p); type(m).__name__, m._nabla_arch["builder"]
    ('Sequential', 'mlp')
    """
    arrays, metadata = load_file(path)
    arch = metadata.get(ARCH_KEY)
    if arch is None:
        raise CheckpointError(f"{path}: no architecture recorded (metadata key {ARCH_KEY!r}); "
                              "it holds bare weights: build the model in Python and use "
                              "model.load_state_dict(nabla.io.load(path))")
    if metadata.get(FORMAT_KEY) == "checkpoint":
        arrays = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    try:
        arch = json.loads(arch)
    except ValueError as e:
        raise CheckpointError(f"{path}: architecture metadata is not valid JSON ({e})") from None
    from .. import models

    try:
        model = models.build(arch)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the recorded architecture {arch!r}: "
                              f"{e}") from None
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


def _decode(obj, arrays: dict, path):
    from ..creation import from_numpy

    if isinstance(obj, list):
        return [_decode(v, arrays, path) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag in ("__tensor__", "__ndarray__"):
            if value not in arrays:
                raise CheckpointError(f"{path}: missing tensor {value!r} named in the "
                                      "checkpoint metadata")
            a = arrays[value]
            return from_numpy(a) if tag == "__tensor__" else a
        if tag == "__float__":
            return float(value)
        if tag == "__tuple__":
            return tuple(_decode(v, arrays, path) for v in value)
        if tag == "__dict__":
            return {_decode(k, arrays, path): _decode(v, arrays, path) for k, v in value}
    return {k: _decode(v, arrays, path) for k, v in obj.items()}


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, epoch: int = 0,
                    step: int = 0, rng: bool = True, generator=None,
                    extra: dict | None = None, metadata: dict | None = None) -> None:
    """Save everything needed to resume training exactly, atomically, in one file.

    The file holds the model's tensors (``model.<name>``), the optimizer's state
    tensors (``optim.state.<index>.<key>``) and, as JSON metadata, the optimizer's
    other state (param_groups, step counts), the scheduler's state, ``epoch``, ``step``,
    nabla's global random state (with ``rng=True``) and the state of ``generator``
    (e.g. the DataLoader's ``Generator``; a DataLoader is accepted too). ``extra`` is any
    nested data of numbers, strings, lists, dicts and tensors; ``metadata`` (str to str)
    goes into the header as in :func:`save`. A model built by ``nabla.models`` records
    its architecture, so ``load_model`` also reads the model out of a checkpoint.

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
    if extra is not None:
        state["extra"] = _encode(extra, "extra", arrays)
    meta = _check_metadata(metadata)
    meta.update({FORMAT_KEY: "checkpoint", CHECKPOINT_KEY: json.dumps(state)})
    arch = getattr(model, "_nabla_arch", None)
    if arch is not None:
        meta[ARCH_KEY] = json.dumps(arch, sort_keys=True)
    atomic_write_bytes(path, _serialize(arrays, meta))


def read_checkpoint(path) -> tuple[dict, dict, dict]:
    """``(state, arrays, metadata)`` of a checkpoint file, checked but not applied:
    ``state`` is the decoded JSON (epoch, step, optimizer, scheduler, rng, extra)."""
    arrays, metadata = load_file(path)
    raw = metadata.get(CHECKPOINT_KEY)
    if raw is None:
        raise CheckpointError(f"{path}: not a training checkpoint (no {CHECKPOINT_KEY!r} "
                              "metadata); a model file loads with nabla.io.load_model")
    try:
        state = json.loads(raw)
    except ValueError as e:
        raise CheckpointError(f"{path}: checkpoint metadata is not valid JSON ({e})") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version "
                              f"{state.get('version') if isinstance(state, dict) else state!r}")
    for key in ("epoch", "step"):
        if type(state.get(key)) is not int:
            raise CheckpointError(f"{path}: checkpoint metadata lacks an integer {key!r}")
    return state, arrays, metadata


def load_checkpoint(path, model, optimizer=None, scheduler=None, *, generator=None,
                    restore_rng: bool = True) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint` into fresh objects.

    Loads the model's weights (checking names and shapes first), the optimizer's and
    scheduler's state where given, nabla's global random state (``restore_rng``) and
    ``generator``'s state (a ``Generator`` or a DataLoader). Returns a dict with
    ``epoch``, ``step``, ``extra`` and the file's ``metadata``. The file's structure and
    the model's names and shapes are checked before anything is changed.
    """
    from .. import random as _random

    state, arrays, metadata = read_checkpoint(path)
    model_arrays = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    optim_state = sched_state = None
    if optimizer is not None:
        if "optimizer" not in state:
            raise CheckpointError(f"{path}: the checkpoint holds no optimizer state")
        optim_state = _decode(state["optimizer"], arrays, path)
    if scheduler is not None:
        if "scheduler" not in state:
            raise CheckpointError(f"{path}: the checkpoint holds no scheduler state")
        sched_state = _decode(state["scheduler"], arrays, path)
    generator = getattr(generator, "generator", generator)
    if generator is not None and "generator" not in state:
        raise CheckpointError(f"{path}: the checkpoint holds no generator state")
    extra = _decode(state["extra"], arrays, path) if "extra" in state else None
    _fit_model(model, model_arrays, path, prefix="model.")
    if optimizer is not None:
        optimizer.load_state_dict(optim_state)
    if scheduler is not None:
        scheduler.load_state_dict(sched_state)
    if restore_rng and "rng" in state:
        _random.set_rng_state(state["rng"])
    if generator is not None:
        generator.set_state(state["generator"])
    return {"epoch": state["epoch"], "step": state["step"], "extra": extra,
            "metadata": metadata}
