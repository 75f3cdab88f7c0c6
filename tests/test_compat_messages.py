"""What nabla deliberately lacks fails with a message that names the feature and the
alternative (issue 20; docs/pytorch-compat.md lists the same): CUDA/MPS devices, a pickle
handed to nabla.load, torch.compile, and the PyTorch names left out on purpose."""

from __future__ import annotations

import pickle
import warnings
import zipfile

import pytest

import nabla
from nabla import compiler
from nabla.absent import ABSENT


@pytest.mark.parametrize("call", [
    lambda: nabla.ones(2).cuda(),
    lambda: nabla.ones(2).to("cuda"),
    lambda: nabla.ones(2).to("cuda:0"),
    lambda: nabla.nn.Linear(2, 2).cuda(),
    lambda: nabla.nn.Linear(2, 2).to("mps"),
    lambda: nabla.zeros(3, device="cuda"),
    lambda: nabla.device("cuda"),
])
def test_gpu_device_names_cpu_and_the_portable_idiom(call):
    with pytest.raises(RuntimeError) as info:
        call()
    msg = str(info.value)
    assert "not available" in msg and ("'cuda" in msg or "'mps" in msg)
    assert "only the 'cpu' device" in msg
    assert "nabla.cuda.is_available()" in msg


def test_cuda_namespace_answers_and_refuses_with_the_alternative():
    assert nabla.cuda.is_available() is False and nabla.cuda.device_count() == 0
    assert nabla.backends.mps.is_available() is False
    with pytest.raises(RuntimeError, match=r"current_device.*CPU only.*device='cpu'"):
        nabla.cuda.current_device()


def test_a_plain_pickle_given_to_load_is_refused_with_the_conversion(tmp_path):
    path = tmp_path / "old.pt"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    with pytest.raises(Exception) as info:
        nabla.load(path)
    msg = str(info.value)
    assert "pickle" in msg and str(path) in msg
    assert "safetensors.torch import save_file" in msg


def test_a_torch_zip_checkpoint_is_named_as_such(tmp_path):
    path = tmp_path / "ckpt.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ckpt/data.pkl", pickle.dumps({"epoch": 3}))
        z.writestr("ckpt/version", "3\n")
    for kwargs in ({}, {"weights_only": False}, {"map_location": "cpu"}):
        with pytest.raises(Exception, match=r"torch\.save's zip format.*save_file"):
            nabla.load(path, **kwargs)


def test_a_real_torch_save_file_gets_the_same_advice(tmp_path, torch):
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(Exception, match=r"PyTorch checkpoint.*never loads pickle.*save_file"):
        nabla.load(path)


def test_compile_returns_the_model_unchanged_and_says_so_once(monkeypatch):
    monkeypatch.setattr(compiler, "_warned", [False])
    model = nabla.nn.Linear(3, 2)
    x = nabla.randn(4, 3)
    with pytest.warns(UserWarning, match=r"nabla\.compile: nabla does not compile.*eagerly"):
        compiled = nabla.compile(model, mode="max-autotune")
    assert compiled is model
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the note is given once per process
        again = nabla.compile(model, backend="eager")
        decorated = nabla.compile(fullgraph=True)(lambda t: t * 2)
    assert again is model and nabla.equal(compiled(x), model(x))
    assert nabla.equal(decorated(x), x * 2)


@pytest.mark.parametrize("name", sorted(ABSENT))
def test_each_name_left_out_on_purpose_says_why_and_what_instead(name):
    assert not hasattr(nabla, name)  # probes such as hasattr(torch, "compile") keep working
    with pytest.raises(AttributeError) as info:
        getattr(nabla, name)
    msg = str(info.value)
    assert "not part of nabla" in msg
    # an alternative follows the reason
    assert ":" in msg and len(msg.split(":", 1)[1].strip()) > 20


def test_the_names_left_out_are_real_pytorch_names(torch):
    missing = [name for name in ABSENT if not hasattr(torch, name)]
    assert not missing, f"not PyTorch names, so not worth a message: {missing}"


def test_an_unknown_name_keeps_pythons_message():
    with pytest.raises(AttributeError, match=r"^module 'nabla' has no attribute 'no_such_thing'$"):
        nabla.no_such_thing  # noqa: B018
