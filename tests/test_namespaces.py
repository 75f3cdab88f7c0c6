"""The namespaces a GPU-minded PyTorch program touches, as nabla answers them on the CPU,
and the lazy sub-modules that ``import nabla`` alone reaches."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nabla

HEAVY = ("matplotlib", "tqdm", "safetensors", "PIL", "torch", "onnx", "mpi4py", "cupy",
         "tensorboardX", "numba")


def test_import_nabla_loads_no_heavy_module_and_reaches_every_namespace():
    code = (
        "import sys, nabla\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        "for name in ('io', 'viz', 'models', 'utils', 'data', 'optim', 'nn', 'cuda', 'amp',\n"
        "             'backends', 'accelerator', 'serialization', 'onnx', 'compiler'):\n"
        "    assert getattr(nabla, name).__name__ == 'nabla.' + name, name\n"
        "assert nabla.utils.data.DataLoader is nabla.data.DataLoader\n"
        "assert callable(nabla.save) and callable(nabla.load) and callable(nabla.compile)\n"
        "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "ok"


def test_unknown_attribute_still_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        nabla.no_such_thing  # noqa: B018
    assert {"io", "viz", "save", "compile", "utils"} <= set(dir(nabla))


# ------------------------------------------------------------------ cuda, backends

def test_cuda_reports_no_gpu_like_torch_on_a_cpu_machine():
    torch = pytest.importorskip("torch")
    assert nabla.cuda.is_available() is torch.cuda.is_available() is False
    assert nabla.cuda.device_count() == torch.cuda.device_count() == 0
    assert nabla.cuda.manual_seed(0) is None and nabla.cuda.manual_seed_all(0) is None
    nabla.cuda.empty_cache()
    for fn in (nabla.cuda.current_device, nabla.cuda.get_device_name, nabla.cuda.synchronize):
        with pytest.raises(RuntimeError, match=r"CPU only.*is_available\(\).*'cpu'"):
            fn()


def test_cuda_seeding_leaves_the_cpu_generator_alone():
    nabla.manual_seed(3)
    a = nabla.rand(2)
    nabla.manual_seed(3)
    nabla.cuda.manual_seed_all(99)
    assert a.numpy().tolist() == nabla.rand(2).numpy().tolist()


def test_cuda_amp_import_paths():
    from nabla.cuda.amp import GradScaler, autocast  # as `from torch.cuda.amp import ...`

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not GradScaler().is_enabled()
        with autocast():
            assert not nabla.is_autocast_enabled()


def test_backend_flags_have_torchs_defaults_and_are_settable():
    torch = pytest.importorskip("torch")
    from nabla.backends import cudnn

    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert nabla.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    old = cudnn.benchmark
    nabla.backends.cudnn.benchmark = not old
    assert importlib.import_module("nabla.backends.cudnn").benchmark is (not old)
    nabla.backends.cudnn.benchmark = old
    nabla.backends.cuda.matmul.allow_tf32 = True
    assert nabla.backends.cuda.matmul.allow_tf32 is True
    nabla.backends.cuda.matmul.allow_tf32 = False
    assert nabla.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert cudnn.version() is None and not cudnn.is_available()


def test_float32_matmul_precision_like_torch():
    torch = pytest.importorskip("torch")
    assert nabla.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    nabla.set_float32_matmul_precision("medium")
    assert nabla.get_float32_matmul_precision() == "medium"
    nabla.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="precision"):
        nabla.set_float32_matmul_precision("low")


def test_accelerator_is_absent():
    torch = pytest.importorskip("torch")
    assert nabla.accelerator.is_available() is torch.accelerator.is_available() is False
    assert nabla.accelerator.current_accelerator() is None
    assert torch.accelerator.current_accelerator() is None
    assert nabla.accelerator.device_count() == 0


# ------------------------------------------------------------------ compile

def test_compile_returns_the_model_and_warns_once(monkeypatch):
    from nabla import compiler

    monkeypatch.setattr(compiler, "_warned", [False])
    model = nabla.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="does not compile"):
        assert nabla.compile(model) is model
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nabla.compile(model, mode="max-autotune", fullgraph=True) is model

        @nabla.compile(dynamic=True)
        def f(x):
            return x * 2

        assert f(nabla.tensor(2.0)).item() == 4.0
    assert not nabla.compiler.is_compiling()
    with pytest.raises(TypeError, match="Module or a function"):
        nabla.compile(3)


# ------------------------------------------------------------------ dtypes

def test_float16_and_bfloat16_dtypes():
    torch = pytest.importorskip("torch")
    assert nabla.float16 is nabla.half and repr(nabla.bfloat16) == "nabla.bfloat16"
    assert nabla.bfloat16.is_floating_point and nabla.bfloat16.itemsize == \
        torch.bfloat16.itemsize
    assert nabla.bfloat16 != nabla.float16 and nabla.float32 != nabla.bfloat16
    assert nabla.backend.dtype("bfloat16") is nabla.bfloat16
    assert nabla.tensor([1.0, 2.5], dtype=nabla.float16).dtype == nabla.float16


def test_bfloat16_tensors_with_ml_dtypes_round_like_torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    values = [1.0, 1.00390625, 3.14159, -2.5e-3, 3.0e38]
    t = nabla.tensor(values, dtype=nabla.bfloat16)
    assert t.dtype == nabla.bfloat16
    ours = t.float().numpy()
    theirs = torch.tensor(values, dtype=torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert nabla.backend.from_np(t._data.dtype) is nabla.bfloat16


def test_bfloat16_without_ml_dtypes_names_the_package_and_the_alternative(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # import ml_dtypes now fails
    with pytest.raises(TypeError, match=r"ml_dtypes.*nabla.float16 or nabla.float32"):
        nabla.zeros(2, dtype=nabla.bfloat16)
    assert nabla.bfloat16 == "bfloat16"  # naming and comparing need no package


# ------------------------------------------------------------------ onnx

def test_onnx_export_over_nablas_exporter(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = nabla.nn.Sequential(nabla.nn.Linear(4, 3), nabla.nn.ReLU())
    path = tmp_path / "m.onnx"
    assert nabla.onnx.export(model, (nabla.zeros(2, 4),), path, input_names=["x"],
                             output_names=["y"],
                             dynamic_axes={"x": {0: "batch"}, "y": [0]}) is None
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["y"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    static = tmp_path / "s.onnx"
    nabla.onnx.export(model, nabla.zeros(2, 4), static)
    dim = onnx.load(str(static)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 2 and not dim.dim_param  # no dynamic_axes: fixed, as in torch
    import io

    buf = io.BytesIO()
    nabla.onnx.export(model, nabla.zeros(1, 4), buf)
    assert onnx.load_from_string(buf.getvalue()).graph.node


@pytest.mark.parametrize("kwargs,match", [
    ({"dynamic_axes": {"input": {1: "features"}}}, "batch dimension"),
    ({"dynamic_axes": {"z": [0]}}, "not among"),
    ({"export_params": False}, "export_params"),
])
def test_onnx_export_refuses_what_it_cannot_do(tmp_path, kwargs, match):
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match=match):
        nabla.onnx.export(nabla.nn.Linear(4, 3), nabla.zeros(1, 4), tmp_path / "m.onnx",
                          **kwargs)
    with pytest.raises(ValueError, match="one input"):
        nabla.onnx.export(nabla.nn.Linear(4, 3), (nabla.zeros(1, 4), nabla.zeros(1, 4)),
                          tmp_path / "m.onnx")
