"""The ``nabla`` command: train, evaluate, predict, demo; every option; bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nabla import cli, io, models, nn
from nabla.data import datasets
from nabla.train import History

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"


def run(argv, capsys):
    """``nabla argv`` in-process: (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse: --help and bad arguments
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def accuracy_of(out: str, split: str = "test") -> float:
    match = re.search(rf"^{split} accuracy: ([0-9.]+) \((\d+)/(\d+)\)$", out, re.M)
    assert match, out
    return float(match.group(1))


def one_line_error(err: str, *needles: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def weights(path) -> dict:
    return {k: v.numpy() for k, v in io.load(path).items()}


def quick(out_dir, *options):
    """A fast training run's argv (the option under test, not accuracy, matters)."""
    return ["train", "--out", out_dir, "--no-plots", "--quiet", *options]


# ------------------------------------------------------------ the main job, for real

@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``nabla train`` with no arguments, as a user runs it, in an empty directory."""
    cwd = tmp_path_factory.mktemp("main-job")
    result = subprocess.run([sys.executable, "-m", "nabla", "train"], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (cwd / "runs").iterdir()
    return result.stdout, run_dir


def test_train_with_no_arguments(default_run):
    out, run_dir = default_run
    assert accuracy_of(out) >= 0.95
    assert "epoch 30/30" in out and "confusion matrix" in out
    assert re.match(r"\d{8}-\d{6}-digits-mlp$", run_dir.name)
    model, meta = io.load_model(run_dir / "model.safetensors", return_metadata=True)
    assert model._nabla_arch["builder"] == "mlp"
    assert model._nabla_arch["kwargs"]["hidden"] == [128, 64]
    data = json.loads(meta["nabla_data"])
    assert data["dataset"] == "digits" and data["input_shape"] == [1, 8, 8]
    assert data["max_value"] == 16.0 and len(data["mean"]) == 64
    h = History.from_csv(run_dir / "history.csv")
    assert h.epochs == list(range(1, 31)) and h["loss"][-1] < h["loss"][0]
    assert {"val_loss", "val_accuracy", "accuracy", "lr"} <= set(h)
    from PIL import Image

    for png in ("history.png", "confusion_matrix.png"):
        with Image.open(run_dir / png) as img:
            assert img.format == "PNG" and img.size[0] > 100
    state, _, _ = io.read_checkpoint(run_dir / "checkpoint.safetensors")
    assert state["epoch"] == 30


def _held_out_digits(model_path, k=3):
    """Test-split digits (raw levels 0..16) of different classes that the saved model
    classifies correctly from the arrays, so the image pipeline is what is tested."""
    images, labels = datasets.Digits(train=False).arrays(normalize=False)
    meta = json.loads(io.read_metadata(model_path)["nabla_data"])
    model = io.load_model(model_path)
    x = ((images.reshape(len(images), -1) / 16.0 - np.array(meta["mean"]))
         / np.array(meta["std"])).astype(np.float32)
    from nabla.train import predict

    pred = predict(model, x, classes=True).numpy()
    chosen, classes = [], set()
    for i in np.flatnonzero(pred == labels):
        if labels[i] not in classes:
            chosen.append(i)
            classes.add(labels[i])
        if len(chosen) == k:
            break
    return images[chosen, 0], labels[chosen]


def test_predict_png_of_held_out_digits(default_run, tmp_path, capsys):
    from PIL import Image

    _, run_dir = default_run
    model_path = run_dir / "model.safetensors"
    images, labels = _held_out_digits(model_path)
    paths = []
    for i, img in enumerate(images):
        grey = np.round(img.astype(np.float64) * 255 / 16).astype(np.uint8)
        big = np.kron(grey, np.ones((4, 4), np.uint8))  # 32x32, as the digits were drawn
        Image.fromarray(big, mode="L").save(tmp_path / f"digit{i}.png")
        # Dark ink on white paper, RGB: converted, inverted and shrunk by predict.
        Image.fromarray(255 - big, mode="L").convert("RGB").save(tmp_path / f"paper{i}.png")
        paths += [tmp_path / f"digit{i}.png", tmp_path / f"paper{i}.png"]
    code, out, err = run(["predict", model_path, *paths], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(paths)
    for line, path, label in zip(lines, paths, np.repeat(labels, 2)):
        match = re.fullmatch(rf"{re.escape(str(path))}: (\d) \(probability ([0-9.]+)\)", line)
        assert match, line
        assert int(match.group(1)) == label and 0.0 < float(match.group(2)) <= 1.0


def test_predict_npy_single_and_batch_and_top(default_run, tmp_path, capsys):
    _, run_dir = default_run
    model_path = run_dir / "model.safetensors"
    images, labels = _held_out_digits(model_path)
    np.save(tmp_path / "one.npy", images[0].astype(np.float32))      # (8, 8) levels 0..16
    np.save(tmp_path / "batch.npy", images[:, None].astype(np.uint8))  # (3, 1, 8, 8)
    code, out, err = run(["predict", model_path, tmp_path / "one.npy", tmp_path / "batch.npy",
                          "--top", "3"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 4 and lines[1].startswith(f"{tmp_path / 'batch.npy'}[0]: ")
    got = [int(line.split(": ")[1][0]) for line in lines]
    assert got == [labels[0], *labels]
    assert lines[0].count("probability") == 3 and "; then " in lines[0]


def test_evaluate_a_saved_model(default_run, capsys):
    out_train, run_dir = default_run
    code, out, err = run(["evaluate", run_dir / "model.safetensors"], capsys)
    assert code == 0, err
    assert accuracy_of(out) == accuracy_of(out_train)
    assert "confusion matrix" in out and "359 samples" in out
    code, out, _ = run(["evaluate", run_dir / "model.safetensors", "--split", "train",
                        "--quiet"], capsys)
    assert code == 0 and accuracy_of(out, "train") > 0.95 and "confusion" not in out


# ------------------------------------------------------------------------ each option

@pytest.mark.parametrize("dataset", ["xor", "spiral", "moons", "circles", "blobs"])
def test_toy_datasets(dataset, tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--dataset", dataset, "--epochs", "3",
                               "--hidden", "16"), capsys)
    assert code == 0, err
    assert 0.0 <= accuracy_of(out) <= 1.0
    meta = json.loads(io.read_metadata(tmp_path / "model.safetensors")["nabla_data"])
    assert meta["dataset"] == dataset and meta["kind"] == "points"
    if dataset == "moons":  # a point set predicts from an .npy of features
        np.save(tmp_path / "p.npy", np.array([[0.0, 1.0], [1.0, -0.5]], np.float32))
        code, out, err = run(["predict", tmp_path / "model.safetensors", tmp_path / "p.npy"],
                             capsys)
        assert code == 0 and len(out.splitlines()) == 2, err


def test_point_models_refuse_images(tmp_path, capsys):
    run(quick(tmp_path, "--dataset", "xor", "--epochs", "1"), capsys)
    (tmp_path / "x.png").write_bytes(b"")
    code, _, err = run(["predict", tmp_path / "model.safetensors", tmp_path / "x.png"], capsys)
    assert code == 1
    one_line_error(err, "points, not images")


def test_mnist_sample_and_data_dir(tmp_path, capsys):
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST sample not found at {MNIST_DIR}")
    code, out, err = run(quick(tmp_path, "--dataset", "mnist", "--data-dir", MNIST_DIR,
                               "--epochs", "1", "--hidden", "32", "--batch-size", "128"),
                         capsys)
    assert code == 0, err
    assert accuracy_of(out) > 0.7
    meta = json.loads(io.read_metadata(tmp_path / "model.safetensors")["nabla_data"])
    assert meta["input_shape"] == [1, 28, 28] and meta["max_value"] == 255.0
    code, out, err = run(["evaluate", tmp_path / "model.safetensors", "--data-dir", MNIST_DIR,
                          "--quiet"], capsys)
    assert code == 0 and "1000/1000" not in out and accuracy_of(out) > 0.7, err
    # A digits model cannot be evaluated on MNIST: the shapes differ.
    run(quick(tmp_path / "d", "--epochs", "1"), capsys)
    code, _, err = run(["evaluate", tmp_path / "d" / "model.safetensors", "--dataset", "mnist",
                        "--data-dir", MNIST_DIR], capsys)
    assert code == 1
    one_line_error(err, "was trained on digits")


def test_missing_dataset_files_are_one_line(tmp_path, capsys):
    code, _, err = run(quick(tmp_path, "--dataset", "fashion-mnist", "--data-dir",
                             tmp_path / "empty"), capsys)
    assert code == 1
    one_line_error(err, "nabla train: error: FashionMNIST training files not found")


def test_model_perceptron(tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--model", "perceptron", "--epochs", "3"), capsys)
    assert code == 0, err
    assert accuracy_of(out) > 0.8
    assert io.load_model(tmp_path / "model.safetensors")._nabla_arch == {
        "builder": "perceptron", "kwargs": {"in_features": 64, "out_features": 10}}
    code, _, err = run(quick(tmp_path, "--model", "perceptron", "--hidden", "8"), capsys)
    assert code == 1
    one_line_error(err, "--hidden does not apply to --model perceptron")


def test_hidden_activation_dropout(tmp_path, capsys):
    code, _, err = run(quick(tmp_path, "--hidden", "16,8,4", "--activation", "tanh",
                             "--dropout", "0.1", "--epochs", "1"), capsys)
    assert code == 0, err
    arch = io.load_model(tmp_path / "model.safetensors")._nabla_arch
    assert arch["kwargs"] == {"in_features": 64, "hidden": [16, 8, 4], "out_features": 10,
                              "activation": "tanh", "dropout": 0.1}


def test_model_cnn_is_lenet5_on_the_images(tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--model", "cnn", "--epochs", "3",
                               "--activation", "tanh"), capsys)
    assert code == 0, err
    assert accuracy_of(out) > 0.5  # ten classes: chance is 0.1
    model = io.load_model(tmp_path / "model.safetensors")
    assert model._nabla_arch == {"builder": "lenet5", "kwargs": {
        "in_channels": 1, "num_classes": 10, "image_size": 8, "activation": "tanh",
        "pool": "max"}}
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[1], nn.Tanh)
    code, _, err = run(quick(tmp_path, "--model", "cnn", "--dataset", "moons"), capsys)
    assert code == 1
    one_line_error(err, "--model cnn needs images", "moons")
    code, _, err = run(quick(tmp_path, "--model", "cnn", "--hidden", "8"), capsys)
    assert code == 1
    one_line_error(err, "--hidden does not apply to --model cnn")


def test_model_lstm_reads_the_rows(tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--model", "lstm", "--epochs", "3",
                               "--hidden", "32,32", "--optimizer", "adam"), capsys)
    assert code == 0, err
    assert accuracy_of(out) > 0.3
    model = io.load_model(tmp_path / "model.safetensors")
    assert model._nabla_arch["kwargs"] == {
        "input_size": 8, "hidden_size": 32, "num_classes": 10, "cell": "lstm",
        "num_layers": 2, "bidirectional": False}
    assert isinstance(model.rnn, nn.LSTM) and model.rnn.num_layers == 2
    code, _, err = run(quick(tmp_path, "--model", "lstm", "--hidden", "32,16"), capsys)
    assert code == 1
    one_line_error(err, "--model lstm stacks layers of one width")


def test_lstm_default_hidden_size_is_128():
    args = cli.build_parser().parse_args(["train", "--model", "lstm"])
    assert cli._resolve(args)["hidden"] == [128]
    args = cli.build_parser().parse_args(["train"])
    assert cli._resolve(args)["hidden"] == [128, 64]


def test_export_writes_onnx_that_onnxruntime_runs(default_run, tmp_path, capsys):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    _, run_dir = default_run
    target = tmp_path / "model.onnx"
    code, _, err = run(["export", run_dir / "model.safetensors", target], capsys)
    assert code == 0, err
    model = io.load_model(run_dir / "model.safetensors")
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    import nabla

    with nabla.no_grad():
        expected = model.eval()(nabla.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    code, _, err = run(["export", tmp_path / "missing.safetensors", target], capsys)
    assert code == 1
    one_line_error(err, "missing.safetensors")


def test_cli_activations_are_the_builders():
    assert set(cli._activation_names()) == set(models.ACTIVATIONS)


def test_loss_mse(tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--loss", "mse", "--epochs", "5"), capsys)
    assert code == 0, err
    assert accuracy_of(out) > 0.8
    np.save(tmp_path / "x.npy", np.zeros((8, 8), np.float32))
    code, out, _ = run(["predict", tmp_path / "model.safetensors", tmp_path / "x.npy"], capsys)
    assert code == 0 and "(score " in out
    code, out, _ = run(["evaluate", tmp_path / "model.safetensors", "-q"], capsys)
    assert code == 0 and accuracy_of(out) > 0.8


@pytest.mark.parametrize("optimizer,options,expected", [
    ("sgd", ["--lr", "0.02", "--momentum", "0.5"], {"lr": 0.02, "momentum": 0.5}),
    ("adam", ["--lr", "0.01"], {"lr": 0.01, "momentum": None}),
    ("adamw", [], {"lr": 0.003}),
    ("rmsprop", ["--momentum", "0.1"], {"lr": 0.001, "momentum": 0.1}),
    ("adagrad", [], {"lr": 0.05}),
])
def test_optimizers_lr_momentum(optimizer, options, expected, tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--optimizer", optimizer, "--epochs", "2", *options),
                         capsys)
    assert code == 0, err
    cfg = json.loads(io.read_metadata(tmp_path / "model.safetensors")["nabla_train"])
    assert cfg["optimizer"] == optimizer
    assert {k: cfg[k] for k in expected} == expected


def test_momentum_with_adam_is_an_error(tmp_path, capsys):
    code, _, err = run(quick(tmp_path, "--optimizer", "adam", "--momentum", "0.9"), capsys)
    assert code == 1
    one_line_error(err, "--momentum does not apply to --optimizer adam")


def test_batch_size_epochs_val_fraction(tmp_path, capsys):
    code, out, err = run(quick(tmp_path, "--batch-size", "500", "--epochs", "2",
                               "--val-fraction", "0"), capsys)
    assert code == 0, err
    h = History.from_csv(tmp_path / "history.csv")
    assert h.epochs == [1, 2] and "val_loss" not in h
    state, _, _ = io.read_checkpoint(tmp_path / "checkpoint.safetensors")
    assert state["step"] == 2 * 3  # ceil(1438 / 500) batches per epoch


def test_seed_makes_runs_repeatable(tmp_path, capsys):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert run(quick(tmp_path / name, "--seed", seed, "--epochs", "2"), capsys)[0] == 0
    a, b, c = (weights(tmp_path / n / "model.safetensors") for n in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_patience_stops_early(tmp_path, capsys):
    code, out, err = run(["train", "--out", tmp_path, "--no-plots", "--patience", "1",
                          "--epochs", "30", "--lr", "0.2"], capsys)
    assert code == 0, err
    assert len(History.from_csv(tmp_path / "history.csv")) < 30
    assert "EarlyStopping" in err


def test_quiet_and_plots(tmp_path, capsys):
    code, out, _ = run(["train", "--out", tmp_path, "--quiet", "--epochs", "1"], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith("test loss") and "epoch" not in out
    assert (tmp_path / "history.png").is_file() and (tmp_path / "confusion_matrix.png").is_file()
    code, out, _ = run(["train", "--out", tmp_path / "n", "--epochs", "1", "--no-plots"], capsys)
    assert code == 0 and "epoch 1/1" in out and "confusion matrix" in out
    assert not (tmp_path / "n" / "history.png").exists()


def test_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    opts = ["--epochs", "4", "--dropout", "0.2", "--optimizer", "adam"]
    assert run(quick(tmp_path / "full", *opts), capsys)[0] == 0
    assert run(quick(tmp_path / "part", *opts[2:], "--epochs", "2"), capsys)[0] == 0
    code, out, err = run(["train", "--resume", tmp_path / "part" / "checkpoint.safetensors",
                          "--epochs", "4", "--no-plots"], capsys)
    assert code == 0, err
    assert "resuming from" in out and "after epoch 2" in out and "epoch 3/4" in out
    full, resumed = (weights(tmp_path / d / "model.safetensors") for d in ("full", "part"))
    assert sorted(full) == sorted(resumed)
    assert all(np.array_equal(full[k], resumed[k]) for k in full)
    h_full = History.from_csv(tmp_path / "full" / "history.csv")
    h_resumed = History.from_csv(tmp_path / "part" / "history.csv")
    assert h_full.to_dict() == h_resumed.to_dict()
    # A resumed run keeps its settings.
    code, _, err = run(["train", "--resume", tmp_path / "part" / "checkpoint.safetensors",
                        "--epochs", "6", "--lr", "0.5"], capsys)
    assert code == 1
    one_line_error(err, "--lr 0.5 differs from the checkpoint's 0.003")
    code, _, err = run(["train", "--resume", tmp_path / "nope.safetensors"], capsys)
    assert code == 1
    one_line_error(err, "checkpoint not found")
    code, _, err = run(["train", "--resume", tmp_path / "full" / "model.safetensors"], capsys)
    assert code == 1
    one_line_error(err, "not a training checkpoint")


def test_demo(capsys):
    code, out, _ = run(["demo", "--steps", "100"], capsys)
    assert code == 0 and "learning XOR" in out and "targets 0 1 1 0" in out
    assert "step     0  loss" in out and "predictions for (0,0) (0,1) (1,0) (1,1):" in out


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["demo"]])
def test_help_everywhere(command, capsys):
    code, out, _ = run([*command, "--help"], capsys)
    assert code == 0 and out.startswith("usage: nabla")
    if command == ["train"]:
        for option in ("--dataset", "--data-dir", "--model", "--hidden", "--activation",
                       "--loss", "--optimizer", "--lr", "--momentum", "--batch-size",
                       "--epochs", "--seed", "--out", "--resume", "--quiet", "--download",
                       "--val-fraction", "--patience", "--no-plots", "--dropout"):
            assert option in out


def test_no_command_prints_help(capsys):
    code, out, _ = run([], capsys)
    assert code == 0 and "train" in out and "predict" in out


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("argv,needle", [
    (["train", "--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
    (["train", "--hidden", "abc"], "argument --hidden: expects positive layer widths"),
    (["train", "--hidden", "64,0"], "argument --hidden: expects positive layer widths"),
    (["train", "--hidden", "64,,8"], "argument --hidden"),
    (["train", "--epochs", "0"], "argument --epochs: must be positive"),
    (["train", "--lr", "-1"], "argument --lr: must be positive"),
    (["train", "--val-fraction", "1.5"], "argument --val-fraction: must lie in [0, 1)"),
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["train", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["fly"], "invalid choice: 'fly'"),
    (["predict"], "the following arguments are required: MODEL, INPUT"),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    one_line_error(err, needle)


def test_missing_and_damaged_files(default_run, tmp_path, capsys):
    _, run_dir = default_run
    model = run_dir / "model.safetensors"
    code, _, err = run(["evaluate", tmp_path / "missing.safetensors"], capsys)
    assert code == 1
    one_line_error(err, "nabla evaluate: error: model file not found")
    code, _, err = run(["predict", tmp_path / "missing.safetensors", "x.png"], capsys)
    assert code == 1
    one_line_error(err, "model file not found")
    code, _, err = run(["predict", model, tmp_path / "missing.png"], capsys)
    assert code == 1
    one_line_error(err, "input file not found")
    (tmp_path / "notes.txt").write_text("hi")
    code, _, err = run(["predict", model, tmp_path / "notes.txt"], capsys)
    assert code == 1
    one_line_error(err, "unsupported input type .txt")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    code, _, err = run(["predict", model, tmp_path / "bad.png"], capsys)
    assert code == 1
    one_line_error(err, "cannot read the image")
    np.save(tmp_path / "wrong.npy", np.zeros(10))
    code, _, err = run(["predict", model, tmp_path / "wrong.npy"], capsys)
    assert code == 1
    one_line_error(err, "does not hold samples of shape (1, 8, 8)")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(model.read_bytes()[:1000])
    code, _, err = run(["evaluate", broken], capsys)
    assert code == 1
    one_line_error(err, "nabla evaluate: error:", "broken.safetensors")


def test_interrupted_training_says_how_to_resume(tmp_path, capsys, monkeypatch):
    from nabla.train import Callback, loop

    class CtrlC(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    real_fit = loop.fit

    def fit_with_ctrl_c(*args, callbacks=(), **kwargs):
        return real_fit(*args, callbacks=[*callbacks, CtrlC()], **kwargs)

    monkeypatch.setattr("nabla.train.fit", fit_with_ctrl_c)
    code, _, err = run(quick(tmp_path, "--epochs", "5"), capsys)
    assert code == 130
    one_line_error(err, "interrupted; continue with: nabla train --resume",
                   "checkpoint.safetensors")
    state, _, _ = io.read_checkpoint(tmp_path / "checkpoint.safetensors")
    assert state["epoch"] == 2
    # The checkpoint serves evaluate and predict like a model file.
    code, out, err = run(["evaluate", tmp_path / "checkpoint.safetensors", "-q"], capsys)
    assert code == 0 and accuracy_of(out) > 0.5, err


# ------------------------------------------------------------- plots, graph and plot

def is_png(path) -> bool:
    return Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_saves_misclassified_and_first_layer_weights(default_run):
    out, run_dir = default_run
    saved = next(line for line in out.splitlines() if line.startswith("saved to"))
    for png in ("history.png", "confusion_matrix.png", "misclassified.png",
                "first_layer_weights.png"):
        assert png in saved and is_png(run_dir / png), png
    assert not (run_dir / "decision_boundary.png").exists()


def test_train_on_points_saves_a_decision_boundary(tmp_path, capsys):
    code, out, err = run(["train", "--out", tmp_path, "--quiet", "--dataset", "moons",
                          "--epochs", "2"], capsys)
    assert code == 0, err
    assert is_png(tmp_path / "decision_boundary.png")
    assert not (tmp_path / "misclassified.png").exists()
    assert "decision_boundary.png" in out


def _copy(run_dir, dest, *names):
    dest.mkdir()
    for name in names:
        (dest / name).write_bytes((run_dir / name).read_bytes())
    return dest


def test_plot_redraws_a_run(default_run, tmp_path, capsys):
    _, run_dir = default_run
    d = _copy(run_dir, tmp_path / "run", "history.csv", "model.safetensors")
    code, out, err = run(["plot", d], capsys)
    assert code == 0, err
    names = ["history.png", "confusion_matrix.png", "misclassified.png",
             "first_layer_weights.png"]
    assert out == f"saved to {d}: {', '.join(names)}\n"
    assert all(is_png(d / n) for n in names)
    # an interrupted run has only its checkpoint: that serves as the model
    d2 = _copy(run_dir, tmp_path / "part", "history.csv", "checkpoint.safetensors")
    code, out, err = run(["plot", d2], capsys)
    assert code == 0 and is_png(d2 / "misclassified.png"), err


def test_plot_says_what_is_missing(default_run, tmp_path, capsys):
    _, run_dir = default_run
    code, _, err = run(["plot", tmp_path / "nowhere"], capsys)
    assert code == 1
    one_line_error(err, "nabla plot: error: run directory not found")
    code, _, err = run(["plot", tmp_path], capsys)
    assert code == 1
    one_line_error(err, "has no history.csv or model.safetensors", "written by 'nabla train'")
    d = _copy(run_dir, tmp_path / "h", "history.csv")
    code, _, err = run(["plot", d], capsys)
    assert code == 1
    one_line_error(err, "has no model.safetensors")
    (d / "model.safetensors").write_bytes(b"junk")
    code, _, err = run(["plot", d], capsys)
    assert code == 1 and "Traceback" not in err
    assert not (d / "history.png").exists()


def test_graph_prints_the_layer_graph_as_dot(default_run, capsys):
    _, run_dir = default_run
    code, out, err = run(["graph", run_dir / "model.safetensors"], capsys)
    assert code == 0, err
    assert out.startswith("digraph {") and out.rstrip().endswith("}")
    assert "1: Linear(in_features=64, out_features=128, bias=True)" in out
    assert "weight (128, 64)" in out and "-> (1, 10)" in out
    assert 'input [label="input\\n(1, 1, 8, 8)"]' in out
    # a chain: input, Flatten, Linear, ReLU, Linear, ReLU, Linear, output
    assert out.count(" -> ") == 7 and "l5 -> output;" in out
    assert "rankdir=TB" in out


def test_graph_writes_files_and_traces(default_run, tmp_path, capsys, monkeypatch):
    _, run_dir = default_run
    model = run_dir / "model.safetensors"
    code, out, _ = run(["graph", model, "--out", tmp_path / "g.dot", "--rankdir", "LR"], capsys)
    assert code == 0 and out == f"saved to {tmp_path / 'g.dot'}\n"
    assert "rankdir=LR" in (tmp_path / "g.dot").read_text()
    code, _, _ = run(["graph", model, "--trace", "--out", tmp_path / "t.gv", "--format",
                      "dot"], capsys)
    text = (tmp_path / "t.gv").read_text()
    # Three Linear layers, the hidden two fused with their ReLU by Sequential.
    assert code == 0 and len(re.findall(r"Linear(Relu)?Backward", text)) == 3
    assert "1.weight" in text
    assert 'label="output\\nshape (1, 10) float32"' in text
    code, _, _ = run(["graph", model, "--trace", "--max-nodes", "2", "--out",
                      tmp_path / "m.dot"], capsys)
    assert code == 0 and "more nodes" in (tmp_path / "m.dot").read_text()
    # without Graphviz: pictures fail with one line, saying DOT still works
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, _, err = run(["graph", model, "--out", tmp_path / "g.svg"], capsys)
    assert code == 1
    one_line_error(err, "nabla graph: error:", "`dot` program is not installed",
                   "--format dot")
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(__import__("shutil").which("dot") is None,
                    reason="Graphviz `dot` is not installed")
def test_graph_renders_svg_and_png_with_graphviz(default_run, tmp_path, capsys):
    _, run_dir = default_run
    copy = _copy(run_dir, tmp_path / "r", "model.safetensors") / "model.safetensors"
    code, out, err = run(["graph", copy, "--format", "svg"], capsys)
    assert code == 0, err
    assert "<svg" in (tmp_path / "r" / "model.svg").read_text()
    code, _, err = run(["graph", copy, "--out", tmp_path / "g.png"], capsys)
    assert code == 0 and is_png(tmp_path / "g.png"), err


def test_graph_bad_input(tmp_path, capsys):
    code, _, err = run(["graph", tmp_path / "missing.safetensors"], capsys)
    assert code == 1
    one_line_error(err, "model file not found")
    code, _, err = run(["graph", "m.safetensors", "--format", "jpg"], capsys)
    assert code == 2
    one_line_error(err, "argument --format: invalid choice: 'jpg'")
    m = tmp_path / "m.safetensors"
    io.save(models.mlp(4, hidden=(3,), out_features=2), m)  # no dataset recorded
    code, out, _ = run(["graph", m], capsys)
    assert code == 0 and 'input [label="input"]' in out  # no shapes, still a graph
    code, _, err = run(["graph", m, "--trace"], capsys)
    assert code == 1
    one_line_error(err, "does not record its input shape")
    code, _, err = run(["graph", m, "--out", tmp_path / "g.jpg"], capsys)
    assert code == 1
    one_line_error(err, "unknown graph format 'jpg'")


def test_new_commands_are_registered_and_documented(capsys):
    assert [add.__name__ for add in cli.COMMANDS] == [
        "_add_train", "_add_evaluate", "_add_predict", "_add_graph", "_add_plot",
        "_add_export", "_add_demo"]
    for command, options in (("graph", ("--out", "--format", "--trace", "--rankdir",
                                        "--max-nodes", "MODEL_FILE")),
                             ("plot", ("RUN_DIR", "--data-dir", "--download"))):
        code, out, _ = run([command, "--help"], capsys)
        assert code == 0 and out.startswith(f"usage: nabla {command}")
        for option in options:
            assert option in out
    code, out, _ = run([], capsys)
    assert "graph" in out and "plot" in out


def test_save_plots_of_a_convolutional_model(tmp_path):
    from nabla.nn.layers.conv import Conv2d
    from nabla.nn.layers.pooling import MaxPool2d

    rng = np.random.default_rng(0)
    X = rng.random((12, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    data = cli.Data("tiny", X, y, X, y, ["a", "b", "c"], "image")
    model = nn.Sequential(Conv2d(1, 4, 3), nn.ReLU(), MaxPool2d(2), nn.Flatten(),
                          nn.Linear(36, 3))
    saved = cli.save_plots(tmp_path, model, data, cli.Normalizer.fit(X), History(),
                           np.eye(3, dtype=int), (y + 1) % 3, "tiny")
    # no history yet: no curves; a CNN: filters and feature maps, not first-layer weights
    assert saved == ["confusion_matrix.png", "misclassified.png", "filters.png",
                     "feature_maps.png"]
    assert all(is_png(tmp_path / name) for name in saved)
