"""The CLI's error paths: each is one line on stderr, no traceback, a non-zero exit;
and the inputs it used to take silently (NaN, transparent or 16-bit images, an existing
run, inputs unlike the training data) get the corrected behaviour."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from nabla import cli, io

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"


def run(argv, capsys):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    for needle in needles:
        assert needle in err, err


def quick(out_dir, *options):
    return ["train", "--out", out_dir, "--no-plots", "--quiet", "--epochs", "2", *options]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A digits MLP (8x8 grey levels 0..16), trained briefly."""
    out = tmp_path_factory.mktemp("digits") / "run"
    assert cli.main([str(a) for a in quick(out, "--hidden", "32")]) == 0
    return out / "model.safetensors"


# ------------------------------------------------------------------ predict's readers

def test_empty_npy(model, tmp_path, capsys):
    (tmp_path / "empty.npy").write_bytes(b"")
    code, _, err = run(["predict", model, tmp_path / "empty.npy"], capsys)
    assert code == 1
    one_line(err, "empty.npy: empty file")


def test_npy_header_claiming_more_than_the_file_holds(model, tmp_path, capsys):
    path = tmp_path / "huge.npy"
    header = {"descr": "<f8", "fortran_order": False, "shape": (10_000_000_000, 64)}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    code, _, err = run(["predict", model, path], capsys)
    assert code == 1
    one_line(err, "huge.npy: its header declares an array of shape (10000000000, 64)",
             "5,120,000,000,000 bytes", "64 bytes after the header")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_decompression_bomb_png(model, tmp_path, capsys):
    # A 20000 x 20000 PNG needs no 400 MB to test: Pillow refuses it from its header.
    path = tmp_path / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b""))
    code, _, err = run(["predict", model, path], capsys)
    assert code == 1
    one_line(err, "bomb.png: the image has 400,000,000 pixels", "decompression bombs")


def test_all_nan_input_is_refused(model, tmp_path, capsys):
    np.save(tmp_path / "nan.npy", np.full((1, 8, 8), np.nan, np.float32))
    code, out, err = run(["predict", model, tmp_path / "nan.npy"], capsys)
    assert code == 1 and "probability" not in out
    one_line(err, "64 of its 64 values are NaN or infinite")
    x = np.zeros((8, 8))
    x[3, 3] = np.inf
    np.save(tmp_path / "inf.npy", x)
    code, _, err = run(["predict", model, tmp_path / "inf.npy"], capsys)
    assert code == 1
    one_line(err, "1 of its 64 values are NaN or infinite")


def _predicted(out: str) -> str:
    return out.split(": ", 1)[1].split(" (")[0]


def _digit_image():
    """A held-out digit as 8-bit grey levels: light ink (255) on black (0)."""
    from nabla.data import datasets

    X, y = datasets.Digits(train=False).arrays()
    i = int(np.argmax(y == 7))
    return np.round(X[i, 0] * 255).astype(np.uint8), y[i]


def test_rgba_black_ink_on_transparent_is_composited(model, tmp_path, capsys):
    from PIL import Image

    ink, _ = _digit_image()
    Image.fromarray(ink).save(tmp_path / "grey.png")
    rgba = np.zeros((8, 8, 4), np.uint8)  # black everywhere; the stroke is in alpha
    rgba[..., 3] = ink
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.save(tmp_path / "black.npy", np.zeros((8, 8)))
    _, grey, _ = run(["predict", model, tmp_path / "grey.png"], capsys)
    code, rgba_out, err = run(["predict", model, tmp_path / "rgba.png"], capsys)
    _, black, _ = run(["predict", model, tmp_path / "black.npy"], capsys)
    assert code == 0, err
    # The stroke survives: the same answer and probability as the opaque grey image, not
    # the all-black image's.
    assert rgba_out.split(": ", 1)[1] == grey.split(": ", 1)[1]
    assert rgba_out.split(": ", 1)[1] != black.split(": ", 1)[1]
    from nabla.cli.predict import _read_image

    a = _read_image(str(tmp_path / "rgba.png"), (1, 8, 8), 16.0, "auto")
    np.testing.assert_allclose(a[0], ink / 255.0 * 16.0, atol=1e-5)


def test_16_bit_png_is_scaled_by_its_range(model, tmp_path, capsys):
    from PIL import Image

    from nabla.cli.predict import _read_image

    ink, _ = _digit_image()
    Image.fromarray(ink.astype(np.uint16) * 257).save(tmp_path / "deep.png")  # 0..65535
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    a = _read_image(str(tmp_path / "deep.png"), (1, 8, 8), 16.0, "auto")
    np.testing.assert_allclose(a[0], ink / 255.0 * 16.0, atol=1e-4)
    Image.fromarray(ink).save(tmp_path / "eight.png")
    _, deep, _ = run(["predict", model, tmp_path / "deep.png"], capsys)
    _, eight, _ = run(["predict", model, tmp_path / "eight.png"], capsys)
    assert deep.split(": ", 1)[1] == eight.split(": ", 1)[1]


def test_predict_warns_on_inputs_unlike_the_training_data(model, tmp_path, capsys):
    from nabla.data import datasets

    X, _ = datasets.Digits(train=False).arrays()
    np.save(tmp_path / "real.npy", X[:20] * 16)
    code, out, err = run(["predict", model, tmp_path / "real.npy"], capsys)
    assert code == 0 and err == ""  # held-out digits: no warning
    np.save(tmp_path / "black.npy", np.zeros((8, 8)))
    np.save(tmp_path / "white.npy", np.full((8, 8), 16.0))
    np.save(tmp_path / "noise.npy", np.random.default_rng(0).uniform(0, 16, (8, 8)))
    code, out, err = run(["predict", model, *(tmp_path / f"{n}.npy"
                                              for n in ("black", "white", "noise"))], capsys)
    assert code == 0 and out.count("probability") == 3  # still answered, but flagged
    lines = err.splitlines()
    assert len(lines) == 3 and "Traceback" not in err
    for name, line in zip(("black", "white", "noise"), lines):
        assert line.startswith(f"nabla predict: warning: {tmp_path / name}.npy lies far "
                               "outside the training data"), line
    meta = json.loads(io.read_metadata(model)["nabla_data"])
    assert set(meta["input_range"]) == {"level", "distance"}


def test_a_directory_where_a_file_is_expected(model, tmp_path, capsys):
    code, _, err = run(["predict", model, tmp_path], capsys)
    assert code == 1
    one_line(err, f"{tmp_path} is a directory; give image or .npy files")
    code, _, err = run(["evaluate", model.parent], capsys)
    assert code == 1
    one_line(err, f"{model.parent} is a directory: give {model}")
    code, _, err = run(["train", "--resume", model.parent], capsys)
    assert code == 1
    one_line(err, "is a directory: give the checkpoint.safetensors inside it")
    code, _, err = run(["plot", model], capsys)
    assert code == 1
    one_line(err, "is a file; give the run directory")


# ------------------------------------------------------------------------ train's --out

def test_out_naming_an_existing_run_needs_force(model, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(model.parent, out)
    before = (out / "model.safetensors").read_bytes()
    code, _, err = run(quick(out, "--hidden", "16"), capsys)
    assert code == 1
    one_line(err, "already holds a run", "--force")
    assert (out / "model.safetensors").read_bytes() == before
    code, _, err = run(quick(out, "--hidden", "16", "--force"), capsys)
    assert code == 0, err
    assert io.load(out / "model.safetensors")["1.weight"].shape == (16, 64)


def test_out_that_cannot_be_a_directory(tmp_path, capsys):
    code, _, err = run(quick("/proc/nope"), capsys)
    assert code == 1
    one_line(err, "--out /proc/nope: cannot create the run directory")
    assert "file not found" not in err
    (tmp_path / "file").write_text("x")
    code, _, err = run(quick(tmp_path / "file"), capsys)
    assert code == 1
    one_line(err, "is a file, not a directory")
    assert "Errno" not in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_nan_stopped_run_leaves_no_debris(tmp_path, capsys):
    out = tmp_path / "deep" / "run"
    code, _, err = run(quick(out, "--lr", "1e30", "--optimizer", "sgd"), capsys)
    assert code == 1
    one_line(err, "lower --lr", f"removed the run directory {tmp_path / 'deep'}")
    assert list(tmp_path.iterdir()) == []
    # In a directory that existed (empty), only what the run wrote goes.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = run(quick(tmp_path / "mine", "--lr", "1e30"), capsys)
    assert code == 1 and "removed the files it had written" in err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_hidden_too_big_for_memory(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    code, _, err = run(quick(out, "--hidden", "100000000,100000000"), capsys)
    assert code == 1
    one_line(err, "the mlp model (10,000,007,600,000,010 parameters) needs about",
             "GiB of memory to train", "is available", "--hidden")
    assert not out.exists()
    # The case, on a machine with 8 GiB free: 7.5e9 parameters.
    monkeypatch.setattr("nabla.cli.train._available_memory", lambda: 8 * 2**30)
    code, _, err = run(quick(out, "--hidden", "100000000"), capsys)
    assert code == 1
    one_line(err, "the mlp model (7,500,000,010 parameters) needs about 119.6 GiB",
             "8.0 GiB is available")


def test_seed_errors_name_the_option(capsys):
    for argv in (["train", "--seed", "-1"], ["demo", "--seed", "-1"]):
        code, _, err = run(argv, capsys)
        assert code == 2
        one_line(err, "argument --seed: must be an integer from 0", "'-1'")


def test_errors_name_the_users_file_not_a_temporary_one(model, tmp_path, capsys):
    (tmp_path / "x.dot").mkdir()
    code, _, err = run(["graph", model, "--out", tmp_path / "x.dot"], capsys)
    assert code == 1
    one_line(err, "x.dot")
    assert ".tmp" not in err and "Errno" not in err


# -------------------------------------------------------------------- MNIST and demo

def test_mnist_missing_speaks_the_clis_language(tmp_path, capsys):
    code, _, err = run(quick(tmp_path / "r", "--dataset", "mnist", "--data-dir",
                             tmp_path / "none"), capsys)
    assert code == 1
    one_line(err, "MNIST training files not found in", "--data-dir", "--download")
    assert "download=True" not in err
    assert not (tmp_path / "r").exists()


def test_mnist_download_failure_lists_each_mirror(tmp_path, capsys, monkeypatch):
    from nabla.data.datasets import mnist

    def offline(url):
        raise OSError("network is unreachable")

    monkeypatch.setattr(mnist, "_default_opener", offline)
    code, _, err = run(quick(tmp_path / "r", "--dataset", "mnist", "--download",
                             "--data-dir", tmp_path / "d"), capsys)
    assert code == 1
    one_line(err, "--download failed", "--data-dir")
    for mirror in mnist.MNIST.mirrors:
        assert f"{mirror}train-images-idx3-ubyte.gz: network is unreachable" in err
    assert "download=True" not in err


def test_evaluate_remembers_the_mnist_source_and_needs_only_the_test_split(tmp_path, capsys):
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST sample not found at {MNIST_DIR}")
    data = tmp_path / "mnist"
    shutil.copytree(MNIST_DIR, data)
    code, _, err = run(quick(tmp_path / "run", "--dataset", "mnist", "--data-dir", data,
                             "--epochs", "1", "--hidden", "16", "--batch-size", "256"), capsys)
    assert code == 0, err
    for f in data.glob("train-*"):
        f.unlink()  # evaluate must not need the training files
    code, out, err = run(["evaluate", tmp_path / "run" / "model.safetensors", "-q"], capsys)
    assert code == 0, err
    assert "test split, 1000 samples" in out


def test_demo_says_what_it_learns(capsys):
    code, out, _ = run(["demo", "--steps", "10"], capsys)
    assert code == 0 and "XOR" in out and "targets 0 1 1 0" in out
    code, out, _ = run(["demo", "--help"], capsys)
    assert code == 0 and "Learn XOR" in out and "(0,0), (0,1), (1,0), (1,1)" in out
