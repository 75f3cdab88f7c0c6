"""``torch.onnx.export`` over nabla's own ONNX exporter (``nabla.io.export_onnx``).

The ``onnx`` package is imported only when a model is exported.

>>> import os, tempfile, nabla
>>> model = nabla.nn.Sequential(nabla.nn.Linear(4, 3), nabla.nn.ReLU())
>>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
>>> nabla.onnx.export(model, (nabla.zeros(1, 4),), path, input_names=["x"],
...                   output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
>>> os.path.getsize(path) > 0
True
"""

from __future__ import annotations

import os
import tempfile


def _axes(spec, name: str) -> list:
    if isinstance(spec, dict):
        return list(spec)
    if isinstance(spec, (list, tuple)):
        return list(spec)
    raise TypeError(f"dynamic_axes[{name!r}] must be a list of axes or a dict of axis to "
                    f"name, got {type(spec).__name__}")


def export(model, args, f, export_params: bool = True, verbose=None, training=None,
           input_names=None, output_names=None, opset_version: int | None = None,
           dynamic_axes=None, keep_initializers_as_inputs=None, dynamo=None,
           **kwargs) -> None:
    """Export ``model`` run on ``args`` to ONNX at ``f`` (a path or a binary file).

    ``args`` is the model's one input or a tuple holding it. nabla's exporter keeps only
    the batch dimension symbolic: ``dynamic_axes`` may name, for each input or output,
    the batch axis alone (``{"x": {0: "batch"}}``); without ``dynamic_axes`` every
    dimension is fixed, as in PyTorch. ``opset_version`` defaults to nabla's (17).
    ``export_params=False`` is not supported (the weights are always in the file).
    The model is exported in eval mode. Other PyTorch arguments are accepted and ignored.
    """
    from .io import onnx as _onnx

    if not export_params:
        raise ValueError("nabla.onnx.export: export_params=False is not supported; the "
                         "weights are always stored in the file")
    if isinstance(args, tuple):
        if len(args) != 1:
            raise ValueError(f"nabla.onnx.export takes models with one input, got a tuple "
                             f"of {len(args)} args")
        (args,) = args
    input_names = list(input_names or ["input"])
    output_names = list(output_names or ["output"])
    dynamic = bool(dynamic_axes)
    for name, spec in (dynamic_axes or {}).items():
        axes = _axes(spec, name)
        if name not in input_names + output_names:
            raise ValueError(f"dynamic_axes names {name!r}, which is not among the input "
                             f"names {input_names} or output names {output_names}")
        batch = _onnx._input_batch_axis(model) if name in input_names else None
        if len(axes) > 1 or (batch is not None and axes and axes[0] != batch):
            raise ValueError(f"dynamic_axes[{name!r}] = {spec!r}: nabla's ONNX export keeps "
                             "only the batch dimension symbolic"
                             + (f" (axis {batch} of this model's input)" if batch is not None
                                else ""))
    opset = 17 if opset_version is None else opset_version
    if hasattr(f, "write"):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            _onnx.export_onnx(model, args, path, input_names=input_names,
                              output_names=output_names, opset=opset, dynamic_batch=dynamic)
            with open(path, "rb") as src:
                f.write(src.read())
        return None
    _onnx.export_onnx(model, args, os.fspath(f), input_names=input_names,
                      output_names=output_names, opset=opset, dynamic_batch=dynamic)
    return None
