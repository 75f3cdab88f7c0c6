"""Files: models and training checkpoints in the safetensors format.

``save``/``load`` handle weights (a Module or a state dict); ``load_model`` rebuilds a
model from the architecture recorded in its file; ``save_checkpoint``/
``load_checkpoint`` hold everything needed to resume training bit for bit. Writes are
atomic and reads never execute code.

>>> import os, tempfile, nabla
>>> from nabla import io
>>> p = os.path.join(tempfile.mkdtemp(), "t.safetensors")
>>> io.save({"t": nabla.tensor([1.0, 2.0])}, p)
>>> io.load(p)["t"]
tensor([1., 2.])
"""

from .checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    load,
    load_checkpoint,
    load_file,
    load_model,
    parse_header,
    read_checkpoint,
    read_metadata,
    save,
    save_checkpoint,
)
from .onnx import UnsupportedModuleError, export_onnx

__all__ = [
    "CheckpointError", "atomic_write_bytes", "save", "load", "load_file", "load_model",
    "read_metadata", "parse_header", "save_checkpoint", "load_checkpoint", "read_checkpoint",
    "export_onnx", "UnsupportedModuleError",
]
