"""nabla.io: safetensors files, header validation, atomic writes, training checkpoints."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import nabla
from nabla import io, models, nn, optim
from nabla.data import DataLoader, TensorDataset
from nabla.io import CheckpointError
from nabla.train import fit


def _header_bytes(header: dict) -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw


def _write(path, header: dict, data: bytes = b"") -> str:
    path.write_bytes(_header_bytes(header) + data)
    return str(path)


# ------------------------------------------------------------------------- round trips

def test_round_trip_keeps_dtypes_shapes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "i64": np.arange(6, dtype=np.int64).reshape(2, 3),
        "u8": np.array([0, 255], dtype=np.uint8),
        "bool": np.array([True, False]),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "transposed": np.arange(6.0).reshape(2, 3).T,  # not C-contiguous
    }
    path = tmp_path / "a.safetensors"
    io.save({k: nabla.from_numpy(v) for k, v in state.items()}, path)
    loaded = io.load(path)
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert isinstance(loaded[k], nabla.Tensor)
        assert loaded[k].numpy().dtype == v.dtype and loaded[k].shape == v.shape
        assert np.array_equal(loaded[k].numpy(), v)


def test_metadata_round_trip_and_type_check(tmp_path):
    path = tmp_path / "m.safetensors"
    io.save({"x": np.zeros(2)}, path, metadata={"author": "me", "json": json.dumps([1, 2])})
    meta = io.read_metadata(path)
    assert meta["author"] == "me" and json.loads(meta["json"]) == [1, 2]
    with pytest.raises(TypeError, match="str to str"):
        io.save({"x": np.zeros(2)}, path, metadata={"n": 3})
    with pytest.raises(TypeError, match="expected a Tensor"):
        io.save({"x": [1, 2]}, path)


def test_the_file_is_readable_by_the_safetensors_library(tmp_path):
    from safetensors.numpy import load_file

    path = tmp_path / "m.safetensors"
    model = models.mlp(4, hidden=(3,), out_features=2)
    io.save(model, path)
    other = load_file(str(path))
    for k, v in model.state_dict().items():
        assert np.array_equal(other[k], v.numpy())


def test_load_model_rebuilds_the_architecture(tmp_path):
    nabla.manual_seed(0)
    model = models.mlp(6, hidden=(5, 4), out_features=3, activation="tanh")
    path = tmp_path / "mlp.safetensors"
    io.save(model, path, metadata={"note": "x"})
    again, meta = io.load_model(path, return_metadata=True)
    assert again._nabla_arch == model._nabla_arch
    assert meta["note"] == "x"
    x = nabla.randn(7, 6)
    assert np.array_equal(model(x).detach().numpy(), again(x).detach().numpy())


def test_load_model_without_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "bare.safetensors"
    io.save({"w": np.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="no architecture recorded"):
        io.load_model(path)


def test_load_model_refuses_unknown_builders(tmp_path):
    path = tmp_path / "evil.safetensors"
    io.save({"w": np.zeros(2)}, path,
            metadata={"nabla_arch": json.dumps({"builder": "os.system", "kwargs": {}})})
    with pytest.raises(CheckpointError, match="unknown model builder 'os.system'"):
        io.load_model(path)
    path2 = tmp_path / "badjson.safetensors"
    io.save({"w": np.zeros(2)}, path2, metadata={"nabla_arch": "{not json"})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        io.load_model(path2)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="directory"):
        io.load(tmp_path)


# --------------------------------------------------------------------- malformed files

def test_too_short(tmp_path):
    p = tmp_path / "short"
    p.write_bytes(b"\x01\x02")
    with pytest.raises(CheckpointError, match="too short"):
        io.load(p)


def test_header_length_larger_than_the_file(tmp_path):
    p = tmp_path / "long"
    p.write_bytes((10_000).to_bytes(8, "little") + b'{"a": 1}')
    with pytest.raises(CheckpointError, match="header length 10000 is larger than the 8 bytes"):
        io.load(p)


def test_header_not_json(tmp_path):
    p = tmp_path / "notjson"
    p.write_bytes((5).to_bytes(8, "little") + b"{abc]")
    with pytest.raises(CheckpointError, match="header is not valid JSON"):
        io.load(p)
    p.write_bytes((2).to_bytes(8, "little") + b"\xff\xfe")
    with pytest.raises(CheckpointError, match="header is not valid JSON"):
        io.load(p)
    p.write_bytes(_header_bytes([1, 2]))
    with pytest.raises(CheckpointError, match="must be a JSON object"):
        io.load(p)


def test_offsets_out_of_range(tmp_path):
    p = _write(tmp_path / "f", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
               b"\0" * 4)
    with pytest.raises(CheckpointError, match=r"'a' has data_offsets \[0, 8\] out of range "
                                              r"of the 4-byte data section"):
        io.load(p)
    p = _write(tmp_path / "g", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}},
               b"\0" * 4)
    with pytest.raises(CheckpointError, match="out of range"):
        io.load(p)


def test_overlapping_offsets(tmp_path):
    p = _write(tmp_path / "f", {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }, b"\0" * 12)
    with pytest.raises(CheckpointError, match="tensors 'a' and 'b' overlap"):
        io.load(p)


def test_hole_between_tensors(tmp_path):
    p = _write(tmp_path / "f", {
        "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
        "b": {"dtype": "U8", "shape": [2], "data_offsets": [4, 6]},
    }, b"\0" * 6)
    with pytest.raises(CheckpointError, match="2 unused bytes before tensor 'b'"):
        io.load(p)


def test_dtype_and_shape_disagree_with_offsets(tmp_path):
    p = _write(tmp_path / "f", {"a": {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 16]}},
               b"\0" * 16)
    with pytest.raises(CheckpointError, match=r"'a' is F64 of shape \(2, 2\) \(32 bytes\) but "
                                              r"its data_offsets \[0, 16\] span 16 bytes"):
        io.load(p)


def test_trailing_bytes(tmp_path):
    p = _write(tmp_path / "f", {"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}},
               b"\0" * 5)
    with pytest.raises(CheckpointError, match="3 trailing bytes after the last tensor"):
        io.load(p)


def test_unknown_dtype_bad_shape_missing_fields(tmp_path):
    p = _write(tmp_path / "f", {"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}},
               b"\0" * 2)
    with pytest.raises(CheckpointError, match="dtype 'BF16'"):
        io.load(p)
    p = _write(tmp_path / "g", {"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}})
    with pytest.raises(CheckpointError, match="invalid shape"):
        io.load(p)
    p = _write(tmp_path / "h", {"a": {"dtype": "U8", "shape": [1]}}, b"\0")
    with pytest.raises(CheckpointError, match="needs dtype, shape and data_offsets"):
        io.load(p)
    p = _write(tmp_path / "i", {"__metadata__": {"k": 1}})
    with pytest.raises(CheckpointError, match="__metadata__ must map strings to strings"):
        io.load(p)


def test_truncated_real_file(tmp_path):
    path = tmp_path / "m.safetensors"
    io.save(models.mlp(8, hidden=(16,), out_features=4), path)
    raw = path.read_bytes()
    for cut in (4, 20, len(raw) // 2, len(raw) - 1):
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError):
            io.load(path)
    path.write_bytes(raw + b"junk")
    with pytest.raises(CheckpointError, match="4 trailing bytes"):
        io.load(path)


def test_errors_are_value_errors():
    assert issubclass(CheckpointError, ValueError)


def test_missing_unexpected_and_misshapen_keys_for_a_model(tmp_path):
    model = models.mlp(4, hidden=(3,), out_features=2)
    sd = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    arch = {"nabla_arch": json.dumps(model._nabla_arch)}

    missing = dict(sd)
    del missing["3.bias"]
    io.save(missing, tmp_path / "missing.safetensors", metadata=arch)
    with pytest.raises(CheckpointError, match="missing keys for the recorded "
                                               "architecture 'mlp': 3.bias"):
        io.load_model(tmp_path / "missing.safetensors")

    extra = dict(sd, surprise=np.zeros(1))
    io.save(extra, tmp_path / "extra.safetensors", metadata=arch)
    with pytest.raises(CheckpointError, match="unexpected keys for the recorded "
                                               "architecture 'mlp': surprise"):
        io.load_model(tmp_path / "extra.safetensors")

    wrong = dict(sd)
    wrong["1.weight"] = np.zeros((3, 5), np.float32)
    io.save(wrong, tmp_path / "wrong.safetensors", metadata=arch)
    with pytest.raises(CheckpointError, match=r"tensor '1.weight' has shape \(3, 5\), the model "
                                              r"expects \(3, 4\)"):
        io.load_model(tmp_path / "wrong.safetensors")


def test_checkpoint_errors_leave_the_model_unchanged(tmp_path):
    model = models.mlp(4, hidden=(3,), out_features=2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "c.safetensors"
    io.save_checkpoint(path, model, opt, epoch=1, step=2)
    other = models.mlp(4, hidden=(5,), out_features=2)
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match="the model expects"):
        io.load_checkpoint(path, other, optim.SGD(other.parameters(), lr=0.1))
    for k, v in other.state_dict().items():
        assert np.array_equal(v.numpy(), before[k])
    # A model file is not a training checkpoint, and says so.
    io.save(model, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        io.load_checkpoint(tmp_path / "model.safetensors", model, opt)


# --------------------------------------------------------------------- atomic writes

def test_atomic_write_leaves_no_temporary_files_and_keeps_old_file_on_failure(
        tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    io.save({"a": np.ones(3)}, path)
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        io.save({"a": np.zeros(3)}, path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]
    assert np.array_equal(io.load(path)["a"].numpy(), np.ones(3))


def test_atomic_write_keeps_an_ordinary_file_mode(tmp_path):
    path = tmp_path / "m.bin"
    io.atomic_write_bytes(path, b"x")
    assert os.stat(path).st_mode & 0o777 == 0o644


_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    import nabla
    from nabla import io, nn, optim

    path = sys.argv[1]
    model = nn.Sequential(nn.Linear(1000, 2000), nn.Linear(2000, 1000))  # ~16 MB
    opt = optim.Adam(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = nabla.zeros_like(p)
    opt.step()  # creates exp_avg / exp_avg_sq: ~48 MB in all
    generation = 0
    while True:
        generation += 1
        for p in model.parameters():
            p._data.fill(generation)
        io.save_checkpoint(path, model, opt, epoch=generation, step=generation)
        if generation == 1:
            print("ready", flush=True)
""")


def test_killing_a_save_never_leaves_a_partial_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    rand = random.Random(0)
    seen = set()
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, str(script), str(path)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rand.uniform(0.0, 0.6))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        state, arrays, _ = io.read_checkpoint(path)  # never partial: always loadable
        generation = state["epoch"]
        seen.add(generation)
        for name, a in arrays.items():
            if name.startswith("model."):  # every tensor comes from the same save
                assert a.min() == a.max() == generation, name
    assert seen, "the saver never completed a save"
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    # Temporary files of killed saves may remain; they never replace the checkpoint.
    assert all(f.startswith(".ckpt.safetensors.") for f in leftovers)


# ----------------------------------------------------------------------- checkpoints

def test_checkpoint_stores_optimizer_tensors_under_readable_names(tmp_path):
    model = models.mlp(3, hidden=(4,), out_features=2)
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x, y = nabla.randn(8, 3), nabla.tensor([0, 1] * 4)
    nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()
    sched.step()
    path = tmp_path / "c.safetensors"
    g = nabla.Generator().manual_seed(5)
    io.save_checkpoint(path, model, opt, sched, epoch=1, step=1, generator=g,
                       extra={"note": "hi", "array": np.arange(3), "nan": float("nan")})
    arrays, meta = io.load_file(path)
    assert "optim.state.0.exp_avg" in arrays and "optim.state.3.exp_avg_sq" in arrays
    assert "model.1.weight" in arrays
    json.loads(meta["nabla_checkpoint"])  # plain JSON (no NaN literal)
    assert "NaN" not in meta["nabla_checkpoint"]

    model2 = models.mlp(3, hidden=(4,), out_features=2)
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=7, gamma=0.1)
    g2 = nabla.Generator().manual_seed(0)
    info = io.load_checkpoint(path, model2, opt2, sched2, generator=g2)
    assert (info["epoch"], info["step"]) == (1, 1)
    assert info["extra"]["note"] == "hi" and np.isnan(info["extra"]["nan"])
    assert np.array_equal(info["extra"]["array"], np.arange(3))
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert sched2.state_dict() == sched.state_dict()
    assert g2.get_state() == g.get_state()
    sd1, sd2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    for i in sd1:
        for k in sd1[i]:
            assert np.array_equal(np.asarray(sd1[i][k].numpy()), np.asarray(sd2[i][k].numpy()))


def _resume_setup(seed=0):
    """A run with everything that can break exact resumption: a shuffling loader with
    its own generator, dropout drawing from the global generator, Adam, a scheduler."""
    nabla.manual_seed(seed)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((96, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    g = nabla.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, generator=g)
    model = models.mlp(5, hidden=(16, 8), out_features=2, dropout=0.2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched, loader


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    from nabla.train import History

    loss = nn.CrossEntropyLoss()
    full_model, opt, sched, loader = _resume_setup()
    h_full = fit(full_model, loss, opt, loader, 6, scheduler=sched, verbose=0)

    model, opt, sched, loader = _resume_setup()
    h_part = fit(model, loss, opt, loader, 3, scheduler=sched, verbose=0)
    path = tmp_path / "resume.safetensors"
    io.save_checkpoint(path, model, opt, sched, epoch=3, step=18, generator=loader,
                       extra={"history": h_part.to_dict()})
    nabla.manual_seed(12345)  # whatever runs in between must not matter
    nabla.randn(10)

    model2, opt2, sched2, loader2 = _resume_setup(seed=99)  # fresh, different objects
    info = io.load_checkpoint(path, model2, opt2, sched2, generator=loader2)
    h_resumed = fit(model2, loss, opt2, loader2, 6, scheduler=sched2, verbose=0,
                    initial_epoch=info["epoch"], initial_step=info["step"],
                    history=History.from_dict(info["extra"]["history"]))
    full, resumed = full_model.state_dict(), model2.state_dict()
    assert list(full) == list(resumed)
    for k in full:
        assert np.array_equal(full[k].numpy(), resumed[k].numpy()), k
    assert h_resumed.to_dict() == h_full.to_dict()
    assert h_resumed.epochs == [1, 2, 3, 4, 5, 6]
    # And the global generator continues identically too.
    assert nabla.get_rng_state() == _after_full_run_rng()


def _after_full_run_rng():
    model, opt, sched, loader = _resume_setup()
    fit(model, nn.CrossEntropyLoss(), opt, loader, 6, scheduler=sched, verbose=0)
    return nabla.get_rng_state()
