"""What nabla deliberately leaves out of PyTorch's surface, and what to use instead.

``nabla.__getattr__`` consults this table only when a name is missing, so a program that
reaches for ``torch.jit`` or ``torch.complex64`` learns why nabla has none and what does the
job, instead of a bare "no attribute". The error is an AttributeError, so ``hasattr`` and
``getattr(torch, name, None)`` probes keep working. docs/pytorch-compat.md lists the same.

>>> import nabla
>>> hasattr(nabla, "jit")
False
>>> try:
...     nabla.jit
... except AttributeError as e:
...     print(str(e).split(":")[0])
nabla.jit (TorchScript) is not part of nabla
"""

from __future__ import annotations

_TORCHSCRIPT = (
    "nabla.jit (TorchScript) is not part of nabla: models run as plain Python; call the "
    "module directly, and use nabla.onnx.export to hand a model to another runtime"
)
_SPARSE = (
    "sparse tensors are not part of nabla: every tensor is a dense NumPy array; build the "
    "dense tensor (nabla.zeros, then index assignment or scatter_add) instead"
)
_COMPLEX = (
    "complex dtypes are not part of nabla: keep the real and imaginary parts as two real "
    "tensors (or a trailing dimension of 2) and write the complex arithmetic out"
)
_QUANT = (
    "quantization is not part of nabla: nabla computes in float32/float64 (bfloat16/float16 "
    "for storage); export with nabla.onnx.export and quantize in the target runtime"
)

# name -> message. Only names that PyTorch has and nabla will not have on purpose.
ABSENT = {
    "jit": _TORCHSCRIPT,
    "sparse": _SPARSE,
    "sparse_coo_tensor": _SPARSE,
    "sparse_csr_tensor": _SPARSE,
    "complex": _COMPLEX,
    "complex64": _COMPLEX,
    "complex128": _COMPLEX,
    "cfloat": _COMPLEX,
    "cdouble": _COMPLEX,
    "view_as_complex": _COMPLEX,
    "view_as_real": _COMPLEX,
    "quantization": _QUANT,
    "ao": _QUANT,
    "quantize_per_tensor": _QUANT,
    "fft": (
        "nabla.fft is not part of nabla (no complex dtypes): use numpy.fft on t.numpy() "
        "where no gradient is needed"
    ),
    "hub": (
        "nabla.hub is not part of nabla (nabla downloads nothing): the bundled "
        "architectures are in nabla.models, and nabla.load reads safetensors weights"
    ),
    "vmap": (
        "nabla.vmap (functorch) is not part of nabla: write the batch dimension into the "
        "computation, and use nabla.autograd.grad for gradients of gradients"
    ),
    "func": (
        "nabla.func (functorch) is not part of nabla: call modules directly, and use "
        "nabla.autograd.grad for gradients"
    ),
    "set_default_device": (
        "nabla.set_default_device is not part of nabla: the CPU is its only device, and "
        "every tensor is already made there"
    ),
}


def absent_error(module: str, name: str) -> AttributeError:
    """The AttributeError for ``module.name``: the reason and the alternative if nabla left
    ``name`` out on purpose, Python's usual message otherwise."""
    if module == "nabla" and name in ABSENT:
        return AttributeError(ABSENT[name])
    return AttributeError(f"module {module!r} has no attribute {name!r}")
