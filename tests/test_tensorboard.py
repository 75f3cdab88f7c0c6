"""TensorBoard logging: ``SummaryWriter`` with torch's API, read back by TensorBoard's own
event reader (``tensorboard.backend.event_processing.EventAccumulator``); the
``TensorBoard`` callback of ``fit``; ``nabla train --tensorboard``."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator")

import nabla  # noqa: E402
from nabla import cli, nn, optim, train  # noqa: E402
from nabla.data import datasets  # noqa: E402
from nabla.train.tensorboard import TensorBoard  # noqa: E402
from nabla.utils.tensorboard import SummaryWriter  # noqa: E402


def read(log_dir):
    """Everything TensorBoard's reader finds in ``log_dir`` (one run: its own files)."""
    acc = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={k: 0 for k in (
            event_accumulator.SCALARS, event_accumulator.HISTOGRAMS,
            event_accumulator.IMAGES, event_accumulator.TENSORS)})
    return acc.Reload()


def test_round_trip_of_every_kind(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    nabla.manual_seed(0)
    weights = nabla.randn(1000)
    image = np.linspace(0, 1, 3 * 8 * 10, dtype=np.float32).reshape(3, 8, 10)
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalar("loss", nabla.tensor(1.0 / (step + 1)), step)
        w.add_scalars("acc", {"train": 0.9, "val": 0.8}, 2)
        w.add_histogram("w", weights, 5)
        w.add_image("chw", image, 1)
        w.add_image("hw", image[0], 1, dataformats="HW")
        w.add_images("batch", nabla.tensor(np.stack([image, image])), 1)
        w.add_figure("figure", fig, 1)
        w.add_text("note", "hello **TensorBoard**", 0)
        w.add_hparams({"lr": 0.1, "hidden": [8, 8]}, {"hparam/acc": 0.9}, run_name="hp")
    acc = read(tmp_path)
    tags = acc.Tags()
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == \
        [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    (hist,) = acc.Histograms("w")
    assert hist.step == 5 and hist.histogram_value.num == 1000
    assert hist.histogram_value.sum == pytest.approx(float(weights.sum()), rel=1e-5)
    assert hist.histogram_value.min == pytest.approx(float(weights.min()))
    assert set(tags["images"]) == {"chw", "hw", "batch", "figure"}
    chw = acc.Images("chw")[0]
    assert (chw.step, chw.width, chw.height) == (1, 10, 8)
    assert acc.Images("batch")[0].width == 20  # two images side by side
    assert "note/text_summary" in tags["tensors"]
    # add_scalars and add_hparams write runs of their own, as torch does.
    for tag, value in (("train", 0.9), ("val", 0.8)):
        (event,) = read(tmp_path / f"acc_{tag}").Scalars("acc")
        assert (event.step, event.value) == (2, pytest.approx(value))
    assert read(tmp_path / "hp").Scalars("hparam/acc")[0].value == pytest.approx(0.9)


def test_default_log_dir_follows_torchs_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith(f"_{socket.gethostname()}_lr0.1")
    assert w.log_dir == os.path.join("runs", run.name)
    w = SummaryWriter(tmp_path / "given", comment="_ignored")  # comment ignored, as in torch
    w.close()
    assert w.get_logdir() == str(tmp_path / "given")


def test_callback_logs_every_epoch_and_histograms(tmp_path):
    nabla.manual_seed(0)
    X, y = datasets.xor(64, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    h = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                  (X, y), epochs=4, batch_size=16, verbose=0, val_data=(X, y),
                  callbacks=[TensorBoard(tmp_path, histogram_freq=2, hparams={"lr": 0.1})])
    acc = read(tmp_path)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [1, 2, 3, 4]
        np.testing.assert_allclose([e.value for e in events], h[key], rtol=1e-6)
    names = [n for n, _ in model.named_parameters()]
    assert set(acc.Tags()["histograms"]) == {*names, *(f"{n}.grad" for n in names)}
    assert [e.step for e in acc.Histograms("0.weight")] == [2, 4]
    assert acc.Histograms("2.bias.grad")[0].histogram_value.num == 2
    (hp,) = [p for p in Path(tmp_path).iterdir() if p.is_dir()]
    assert read(hp).Scalars("hparam/loss")[0].value == pytest.approx(h["loss"][-1])


def test_nabla_train_tensorboard(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "--out", str(out), "--epochs", "3", "--hidden", "16",
                     "--quiet", "--no-plots", "--tensorboard", "--histogram-freq", "3"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "tensorboard/" in stdout
    acc = read(out / "tensorboard")
    assert [e.step for e in acc.Scalars("val_accuracy")] == [1, 2, 3]
    assert [e.step for e in acc.Histograms("1.weight.grad")] == [3]
    hp = read(out / "tensorboard" / "hparams")
    assert "hparam/val_accuracy" in hp.Tags()["scalars"]
