"""``nabla.save`` / ``nabla.load``: PyTorch's ``torch.save`` / ``torch.load`` for the data
programs save, stored as safetensors, never pickled.

What can be saved: tensors and NumPy arrays, numbers (``inf`` and ``nan`` too), bools,
strings, None, and lists, tuples and dicts of them, nested (dicts may have int keys, as
an optimizer's ``state_dict`` has; an ``OrderedDict`` comes back as a ``dict`` in the same
order). That covers the state dicts of models, optimizers,
schedulers and ``GradScaler``, and checkpoints that bundle them with an epoch. The
tensors go into the safetensors file under names from their position
(``model.fc.weight``); the structure around them (tuples vs lists, int vs str keys) is
JSON in the file's metadata. Loading never runs code; a file written by
``safetensors.torch.save_file`` loads as a dict of tensors.

>>> import io, nabla
>>> model = nabla.nn.Linear(2, 1)
>>> buf = io.BytesIO()
>>> nabla.save({"model": model.state_dict(), "epoch": 3, "best": float("inf")}, buf)
>>> ckpt = nabla.load(io.BytesIO(buf.getvalue()))
>>> ckpt["epoch"], ckpt["best"], sorted(ckpt["model"])
(3, inf, ['bias', 'weight'])
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile

from .io.checkpoint import (
    CheckpointError,
    _decode,
    _encode,
    _load_bytes,
    _serialize,
    atomic_write_bytes,
)

SAVE_KEY = "nabla_save"  # the metadata key holding the saved object's structure (JSON)
SAVE_VERSION = 1

_CONVERT = ("convert it in the PyTorch program that made it: "
            "`from safetensors.torch import save_file; "
            "save_file(model.state_dict(), 'model.safetensors')`, then "
            "nabla.load('model.safetensors')")


class PickleFileError(CheckpointError):
    """A pickled file (what ``torch.save`` writes) given to :func:`load`, which never unpickles."""


def _refuse_pickle(buf: bytes, name: str) -> None:
    if buf[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(buf)) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            names = []
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise PickleFileError(
                f"{name}: this is a PyTorch checkpoint in torch.save's zip format (pickled "
                "data in data.pkl). nabla never loads pickled files, since unpickling can "
                f"run arbitrary code; {_CONVERT}")
        raise CheckpointError(f"{name}: this is a zip archive, not a safetensors file")
    if buf[:1] == b"\x80" and len(buf) > 1 and 2 <= buf[1] <= 5:
        raise PickleFileError(
            f"{name}: this is a pickled Python object file (PyTorch's legacy torch.save "
            "format, or Python's own dump). nabla never loads pickled files, since "
            f"unpickling can run arbitrary code; {_CONVERT}")


def _structure(obj, arrays: dict):
    # A top-level dict of str keys names its tensors by their keys alone
    # (``fc.weight``, ``optimizer.state.0.exp_avg``), so the file reads naturally.
    if isinstance(obj, dict) and obj and all(
            isinstance(k, str) and k and not k.startswith("__") for k in obj):
        return {k: _encode(v, k, arrays) for k, v in obj.items()}
    return _encode(obj, "obj", arrays)


def save(obj, f, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (see the module docstring for what it may hold) to ``f``, a path
    (written atomically: a temporary file renamed over it) or a binary file object."""
    if pickle_module is not None:
        raise ValueError("nabla.save never pickles: pickle_module is not supported")
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        raise TypeError(f"nabla.save stores data, not Python objects: save "
                        f"{type(obj).__name__}'s state_dict() instead, and restore it with "
                        "load_state_dict(nabla.load(f)) on a newly built one")
    arrays: dict = {}
    try:
        structure = _structure(obj, arrays)
    except TypeError as e:
        raise TypeError(f"nabla.save: {e}") from None
    meta = {SAVE_KEY: json.dumps({"version": SAVE_VERSION, "object": structure},
                                 allow_nan=False)}
    data = _serialize(arrays, meta)
    if hasattr(f, "write"):
        f.write(data)
    else:
        atomic_write_bytes(f, data)


def _check_map_location(map_location) -> None:
    from . import backend

    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return  # everything is on the CPU already; a remapping has nothing to move
    backend.device(map_location)  # raises, naming the device, for anything but the CPU


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True,
         mmap=None, **pickle_load_args):
    """Load what :func:`save` wrote (or any safetensors file, as a dict of tensors) from
    ``f``, a path or a binary file object. Tensors load on the CPU; ``map_location``
    may name the CPU (or be a dict or function, which has nothing to move).
    ``weights_only`` is accepted either way: nabla never unpickles, so every load is as
    safe as PyTorch's ``weights_only=True``. A pickled file raises :class:`PickleFileError`,
    saying how to convert it; a damaged file a ``CheckpointError`` naming the problem.
    """
    _check_map_location(map_location)
    if hasattr(f, "read"):
        buf, name = f.read(), getattr(f, "name", "<file object>")
    else:
        name = os.fspath(f)
        if os.path.isdir(name):
            raise CheckpointError(f"{name}: is a directory, not a file saved by nabla.save")
        with open(name, "rb") as fh:  # FileNotFoundError passes through unchanged
            buf = fh.read()
    if not isinstance(buf, (bytes, bytearray)):
        raise TypeError(f"nabla.load needs a binary file, got {type(buf).__name__} from "
                        f"{name} (open it with 'rb')")
    buf = bytes(buf)
    _refuse_pickle(buf, name)
    arrays, metadata = _load_bytes(buf, name)
    if SAVE_KEY not in metadata:
        from .creation import from_numpy

        return {k: from_numpy(a) for k, a in arrays.items()}
    try:
        saved = json.loads(metadata[SAVE_KEY])
        version, structure = saved["version"], saved["object"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{name}: the {SAVE_KEY!r} metadata is damaged ({e})") from None
    if version != SAVE_VERSION:
        raise CheckpointError(f"{name}: saved in format version {version}; this nabla "
                              f"reads version {SAVE_VERSION}")
    return _decode(structure, arrays, name)


# ------------------------------------------------------------------ PyTorch's allow-lists
def add_safe_globals(safe_globals: list) -> None:
    """Accepted for PyTorch compatibility; does nothing, as nabla never unpickles."""


def get_safe_globals() -> list:
    return []


def clear_safe_globals() -> None:
    """Accepted for PyTorch compatibility; does nothing."""


@contextlib.contextmanager
def safe_globals(safe_globals: list):
    """PyTorch's context manager that allows classes in pickles: here a no-op, since
    nabla never unpickles.

    >>> with safe_globals([dict]):
    ...     pass
    """
    yield
