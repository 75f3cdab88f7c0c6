"""The file readers' error contract and all-or-nothing loading (issue 22)."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import nabla
from nabla import io, models, optim
from nabla.io import CheckpointError

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "bool"]


def _raw(header: dict, data: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + data


def _rewrite(path, edit):
    """Re-save a checkpoint with its state JSON changed by ``edit(state)``."""
    arrays, meta = io.load_file(path)
    state = json.loads(meta["nabla_checkpoint"])
    edit(state)
    meta["nabla_checkpoint"] = json.dumps(state)
    io.save(arrays, path, metadata=meta)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_save_accepts_load_returns(tmp_path, dtype):
    a = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    io.save({"a": a}, tmp_path / "a.safetensors")
    got = io.load(tmp_path / "a.safetensors")["a"]
    assert got.numpy().dtype == np.dtype(dtype) and np.array_equal(got.numpy(), a)


def test_save_refuses_unsupported_dtypes_naming_them(tmp_path):
    for bad in (np.zeros(2, np.complex64), np.array(["x"]), np.zeros(2, "datetime64[s]")):
        with pytest.raises(TypeError, match=re.escape(str(bad.dtype))):
            io.save({"a": bad}, tmp_path / "bad.safetensors")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("header,match", [
    ({"a": {"dtype": [], "shape": [1], "data_offsets": [0, 4]}}, "dtype"),
    ({"a": {"dtype": {}, "shape": [1], "data_offsets": [0, 4]}}, "dtype"),
    ({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, "shape"),
    ({"a": {"dtype": "F32", "shape": [2 ** 70], "data_offsets": [0, 4]}}, "bytes"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 2 ** 80]}}, "out of range"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": "x"}}, "data_offsets"),
    ({"a": 3}, "needs dtype"),
    ({"__metadata__": {"k": 1}}, "__metadata__"),
    ({"__metadata__": [1]}, "__metadata__"),
])
def test_malformed_headers_raise_checkpoint_error(tmp_path, header, match):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(_raw(header, b"\0" * 4))
    for reader in (io.load, io.read_metadata, io.load_model, io.read_checkpoint):
        with pytest.raises(CheckpointError, match=match):
            reader(p)


def test_deep_nesting_is_refused(tmp_path):
    p = tmp_path / "deep.safetensors"
    text = b"[" * 100_000
    p.write_bytes(len(text).to_bytes(8, "little") + text)
    with pytest.raises(CheckpointError, match=str(p)):
        io.load(p)
    # Nesting inside the metadata's JSON: within the recursion limit, beyond nabla's.
    deep = "[" * 500 + "]" * 500
    meta = {"nabla_format": "checkpoint", "nabla_checkpoint": json.dumps(
        {"version": 1, "epoch": 0, "step": 0, "extra": {"x": json.loads(deep)}}),
        "nabla_arch": deep}
    p.write_bytes(_raw({"__metadata__": meta}))
    with pytest.raises(CheckpointError, match="deeper than"):
        io.read_checkpoint(p)
    with pytest.raises(CheckpointError, match="deeper than"):
        io.load_model(p)


def test_146_byte_model_file_is_refused_before_allocating(tmp_path):
    """The architecture claims a 20000 x 20000 layer; the file holds no tensor."""
    p = tmp_path / "huge.safetensors"
    arch = {"builder": "mlp", "kwargs": {"in_features": 20000, "hidden": [20000],
                                         "out_features": 1}}
    p.write_bytes(_raw({"__metadata__": {"nabla_arch": json.dumps(arch)}}))
    assert p.stat().st_size < 200
    code = textwrap.dedent(f"""
        import tracemalloc, sys
        tracemalloc.start()
        from nabla import io
        try:
            io.load_model({str(p)!r})
        except io.CheckpointError as e:
            print("refused:", e)
        print(tracemalloc.get_traced_memory()[1])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines and lines[0].startswith("refused:") and "missing keys" in lines[0], out
    assert int(lines[-1]) < 200 * 2 ** 20


def _trained(tmp_path):
    nabla.manual_seed(0)
    m = models.mlp(3, hidden=(4,), out_features=2)
    opt = optim.Adam(m.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        m(nabla.randn(5, 3)).sum().backward()
        opt.step()
    g = nabla.Generator().manual_seed(3)
    p = tmp_path / "ckpt.safetensors"
    io.save_checkpoint(p, m, opt, epoch=2, step=2, generator=g)
    return p


def _snapshot(model, opt, g):
    return ({k: v.numpy().copy() for k, v in model.state_dict().items()},
            json.dumps(opt.state_dict()["param_groups"]),
            {id(k): {n: t.numpy().copy() for n, t in v.items()} for k, v in opt.state.items()},
            nabla.get_rng_state(), g.get_state())


def _same(a, b):
    assert a[0].keys() == b[0].keys() and all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
    assert a[1] == b[1] and a[3] == b[3] and a[4] == b[4]
    assert a[2].keys() == b[2].keys()
    for k in a[2]:
        assert all(np.array_equal(a[2][k][n], b[2][k][n]) for n in a[2][k])


def _drop_generator_key(s):
    del s["generator"]["bit_generator"]["state"]["inc"]


def _drop_rng_key(s):
    del s["rng"]["bit_generator"]["state"]


def _lr_as_string(s):
    s["optimizer"]["param_groups"][0]["lr"] = "fast"


def _state_as_string(s):
    entry = s["optimizer"]["state"]["__dict__"][0][1]
    entry["exp_avg"] = "damaged"


def _state_wrong_tensor(s):
    entries = s["optimizer"]["state"]["__dict__"]
    entries[0][1]["exp_avg"] = entries[1][1]["exp_avg"]  # a tensor of another shape


def _betas_short(s):
    s["optimizer"]["param_groups"][0]["betas"] = {"__tuple__": [0.9]}


def _negative_epoch(s):
    s["epoch"] = -1


@pytest.mark.parametrize("damage", [_drop_generator_key, _drop_rng_key, _lr_as_string,
                                    _state_as_string, _state_wrong_tensor, _betas_short,
                                    _negative_epoch])
def test_bad_checkpoint_changes_nothing(tmp_path, damage):
    p = _trained(tmp_path)
    _rewrite(p, damage)
    nabla.manual_seed(123)
    m = models.mlp(3, hidden=(4,), out_features=2)
    opt = optim.Adam(m.parameters(), lr=0.5)
    opt.zero_grad()
    m(nabla.randn(2, 3)).sum().backward()
    opt.step()
    g = nabla.Generator().manual_seed(9)
    before = _snapshot(m, opt, g)
    with pytest.raises(CheckpointError, match=str(p)):
        io.load_checkpoint(p, m, opt, generator=g)
    _same(before, _snapshot(m, opt, g))


def test_good_checkpoint_still_loads_everything(tmp_path):
    p = _trained(tmp_path)
    m = models.mlp(3, hidden=(4,), out_features=2)
    opt = optim.Adam(m.parameters(), lr=0.5)
    g = nabla.Generator()
    info = io.load_checkpoint(p, m, opt, generator=g)
    assert info["epoch"] == 2 and opt.param_groups[0]["lr"] == 0.01
    assert g.get_state() == nabla.Generator().manual_seed(3).get_state()


_SAVER = textwrap.dedent("""
    import sys, numpy as np
    from nabla import io
    a = np.random.default_rng(0).random(2_500_000)  # 20 MB
    print("ready", flush=True)
    while True:
        io.save({"a": a}, sys.argv[1])
""")


def test_sigkill_during_saves_leaves_no_temp_file(tmp_path):
    target = tmp_path / "big.safetensors"
    rng = np.random.default_rng(0)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(target)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.15)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert sorted(os.listdir(tmp_path)) in ([], ["big.safetensors"])
    if target.exists():
        assert io.load(target)["a"].shape == (2_500_000,)


def test_next_save_removes_temp_files_of_dead_writers(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".w.safetensors.nabla-tmp-{dead}-abcdef"
    alive = tmp_path / f".w.safetensors.nabla-tmp-{os.getppid()}-abcdef"
    stale.write_bytes(b"x" * 10)
    alive.write_bytes(b"y")
    io.save({"a": np.zeros(2)}, tmp_path / "other.safetensors")
    assert not stale.exists() and alive.exists()


def test_directory_and_fifo_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="directory"):
        io.load(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # Opening a FIFO for reading blocks until a writer comes: read in a daemon thread
    # so that a reader that waits fails this test instead of hanging it.
    result = []

    def read():
        try:
            io.read_metadata(fifo)
        except CheckpointError as e:
            result.append(str(e))

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(10)
    assert result and "not a regular file" in result[0]
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.safetensors")
