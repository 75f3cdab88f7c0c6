"""nabla.save / nabla.load: PyTorch-shaped checkpoints in safetensors, never pickle."""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np
import pytest

import nabla
from nabla.io import CheckpointError
from nabla.serialization import PickleFileError


def _trained():
    nabla.manual_seed(0)
    model = nabla.nn.Sequential(nabla.nn.Linear(3, 4), nabla.nn.ReLU(), nabla.nn.Linear(4, 2))
    opt = nabla.optim.Adam(model.parameters(), lr=0.01)
    sched = nabla.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        model(nabla.randn(5, 3)).pow(2).mean().backward()
        opt.step()
        sched.step()
    return model, opt, sched


def _same(a, b):
    """Equal values and equal types all the way down (tuples vs lists, int vs str keys)."""
    # Tensors may be Parameters; an OrderedDict comes back as a dict in the same order.
    assert type(a) is type(b) or all(isinstance(x, nabla.Tensor) for x in (a, b)) or \
        all(isinstance(x, dict) for x in (a, b)), (type(a), type(b))
    if isinstance(a, nabla.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_model_optimizer_scheduler_round_trip(tmp_path):
    model, opt, sched = _trained()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "best": float("inf"),
            "nan": float("nan"), "ok": True, "note": None, "shape": (3, 4)}
    path = tmp_path / "ckpt.pt"
    nabla.save(ckpt, path)
    back = nabla.load(path)
    _same(ckpt, back)
    assert isinstance(next(iter(back["optimizer"]["state"])), int)  # int keys stay ints
    # The loaded state resumes the same training.
    model2, opt2, sched2 = _trained()
    model2.load_state_dict(back["model"])
    opt2.load_state_dict(back["optimizer"])
    sched2.load_state_dict(back["scheduler"])
    _same(opt2.state_dict(), opt.state_dict())
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_tensor_names_and_dtypes_in_the_file(tmp_path):
    sd = {"w": nabla.ones(2, 2), "i": nabla.tensor([1, 2]),
          "h": nabla.zeros(3, dtype=nabla.float16), "b": nabla.tensor([True, False])}
    nabla.save(sd, tmp_path / "sd.pt")
    arrays = nabla.io.load(tmp_path / "sd.pt")  # any safetensors reader sees the tensors
    assert sorted(arrays) == ["b", "h", "i", "w"]
    back = nabla.load(tmp_path / "sd.pt")
    assert [back[k].dtype for k in ("w", "i", "h", "b")] == \
        [nabla.float32, nabla.int64, nabla.float16, nabla.bool_]


@pytest.mark.parametrize("obj", [
    nabla.arange(5),
    [1, (2, [3.5, None]), {"a": "b"}],
    {0: "int key", "0": "str key", 1.5: [], None: 1},
    (nabla.ones(1), nabla.ones(1)),
    {"__tensor__": "looks like a tag"},
    {},
    -math.inf,
])
def test_other_structures_round_trip(obj):
    buf = io.BytesIO()
    nabla.save(obj, buf)
    buf.seek(0)
    _same(obj, nabla.load(buf))


def test_file_objects_and_map_location(tmp_path):
    path = tmp_path / "x.pt"
    with open(path, "wb") as f:
        nabla.save({"x": nabla.ones(2)}, f)
    with open(path, "rb") as f:
        assert nabla.load(f, map_location="cpu")["x"].numpy().tolist() == [1.0, 1.0]
    nabla.load(str(path), map_location=nabla.device("cpu"), weights_only=False)
    nabla.load(path, map_location=lambda storage, loc: storage)
    with pytest.raises(RuntimeError, match="cuda"):
        nabla.load(path, map_location="cuda:0")


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "a.pt"
    nabla.save({"v": 1}, path)
    with pytest.raises(TypeError, match="object"):
        nabla.save({"v": object()}, path)
    assert nabla.load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["a.pt"]  # no temporary file left behind


def test_modules_and_objects_are_refused_with_advice():
    with pytest.raises(TypeError, match="state_dict"):
        nabla.save(nabla.nn.Linear(2, 2), io.BytesIO())
    with pytest.raises(TypeError, match="set"):
        nabla.save({"s": {1, 2}}, io.BytesIO())
    with pytest.raises(ValueError, match="pickle"):
        nabla.save({}, io.BytesIO(), pickle_module=object())


# ------------------------------------------------------------------ bad input

def test_a_torch_pickle_gets_an_error_that_says_how_to_convert(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(PickleFileError, match=r"torch.save's zip format.*save_file"):
        nabla.load(path)
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(PickleFileError, match=r"pickle.*safetensors.torch import save_file"):
        nabla.load(legacy)


def test_a_file_from_safetensors_torch_loads_as_a_dict_of_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    model = torch.nn.Linear(3, 2)
    st.save_file(model.state_dict(), tmp_path / "m.safetensors")
    sd = nabla.load(tmp_path / "m.safetensors")
    ours = nabla.nn.Linear(3, 2)
    ours.load_state_dict(sd)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), model.weight.detach().numpy())


def test_truncated_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "ok.pt"
    nabla.save({"w": nabla.ones(4), "step": 2}, path)
    data = path.read_bytes()
    for i, bad in enumerate([data[:-3], data[:6], b"", b"hello, not a checkpoint",
                             b"PK\x03\x04 not really a zip"]):
        p = tmp_path / f"bad{i}.pt"
        p.write_bytes(bad)
        with pytest.raises(CheckpointError, match=str(p).replace("\\", "\\\\")):
            nabla.load(p)
    with pytest.raises(FileNotFoundError):
        nabla.load(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="directory"):
        nabla.load(tmp_path)


def test_damaged_structure_metadata_is_named(tmp_path):
    from nabla.io.checkpoint import _serialize

    p = tmp_path / "meta.pt"
    p.write_bytes(_serialize({"x": np.ones(1)}, {"nabla_save": "{not json"}))
    with pytest.raises(CheckpointError, match="nabla_save"):
        nabla.load(p)
    p.write_bytes(_serialize({}, {"nabla_save": json.dumps({"version": 99, "object": 1})}))
    with pytest.raises(CheckpointError, match="version 99"):
        nabla.load(p)


def test_safe_globals_are_accepted_for_compatibility():
    from nabla import serialization

    serialization.add_safe_globals([dict])
    with serialization.safe_globals([dict]):
        pass
    assert serialization.get_safe_globals() == []
