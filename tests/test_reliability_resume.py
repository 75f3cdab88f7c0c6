"""Resumed == straight, bit for bit, with callbacks and schedulers that keep state
(issue 22): their state is in the training checkpoint."""

import numpy as np

import nabla
from nabla import cli, io, models, nn, optim
from nabla.data import DataLoader, TensorDataset, datasets
from nabla.train import EarlyStopping, History, ModelCheckpoint, fit


def _cli(*argv):
    assert cli.main([str(a) for a in argv]) == 0


def _tensors(path):
    return {k: v.numpy() for k, v in io.load(path).items()}


def _last_improvement(history_csv):
    """The last epoch whose val_loss beat every earlier one."""
    rows = [line.split(",") for line in history_csv.strip().splitlines()[1:]]
    col = history_csv.splitlines()[0].split(",").index("val_loss")
    best, last = float("inf"), 0
    for row in rows:
        if float(row[col]) < best:
            best, last = float(row[col]), int(row[0])
    return last


def test_cli_resume_with_patience_is_exact(tmp_path, capsys):
    # lr 0.3, patience 2: the straight run stops 2 epochs after its last improvement b.
    # Cut at b + 1 (wait 1): a resume that forgot the patience count would train on
    # past b + 2. (b follows from the arithmetic's last bits, so it is read, not assumed.)
    common = ["--no-plots", "--quiet", "--patience", "2", "--lr", "0.3"]
    _cli("train", "--out", tmp_path / "straight", "--epochs", "30", *common)
    best = _last_improvement((tmp_path / "straight" / "history.csv").read_text())
    assert 2 <= best < 20
    _cli("train", "--out", tmp_path / "cut", "--epochs", best + 1, *common)
    # The configuration records --patience: the resumed run needs only --epochs.
    _cli("train", "--resume", tmp_path / "cut" / "checkpoint.safetensors", "--epochs", "30",
         "--no-plots", "--quiet")
    capsys.readouterr()
    straight = (tmp_path / "straight" / "history.csv").read_text()
    resumed = (tmp_path / "cut" / "history.csv").read_text()
    assert straight.count("\n") == best + 3  # the header and epochs 1..b+2
    assert resumed == straight
    a, b = (_tensors(tmp_path / d / "model.safetensors") for d in ("straight", "cut"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    # Resuming the run that has stopped trains nothing more.
    _cli("train", "--resume", tmp_path / "straight" / "checkpoint.safetensors", "--epochs",
         "30", "--no-plots", "--quiet")
    assert (tmp_path / "straight" / "history.csv").read_text() == straight


def _run(tmp_path, epochs, resume=None, total=12):
    nabla.manual_seed(0)
    X, y = datasets.blobs(120, centers=[[-1, -1], [1, 1], [1, -1]], std=0.9)
    g = nabla.Generator().manual_seed(1)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, generator=g)
    model = models.mlp(2, hidden=(16,), out_features=3)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    ckpt = tmp_path / "ckpt.safetensors"
    cbs = [EarlyStopping("val_loss", patience=3, restore_best=True),
           ModelCheckpoint(tmp_path / "best.safetensors", save_best_only=True),
           ModelCheckpoint(ckpt, training_state=True)]
    kw = {}
    if resume:
        info = io.load_checkpoint(ckpt, model, opt, sched, generator=g)
        kw = dict(initial_epoch=info["epoch"], initial_step=info["step"],
                  history=History.from_dict(info["extra"]["history"]),
                  callback_states=info["callbacks"])
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs, val_data=(X[:40], y[:40]),
            scheduler=sched, callbacks=cbs, verbose=0, batch_size=None, **kw)
    return h, model, sched, cbs


def test_fit_resume_with_plateau_scheduler_and_callbacks_is_exact(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    h1, m1, s1, c1 = _run(tmp_path / "a", 12)
    _run(tmp_path / "b", 4)
    h2, m2, s2, c2 = _run(tmp_path / "b", 12, resume=True)
    d1, d2 = h1.to_dict(), h2.to_dict()
    assert d1.keys() == d2.keys()
    for k in d1:  # exact, nan equal to nan (pytest.approx refuses nested dicts from 9.2)
        np.testing.assert_array_equal(np.asarray(d1[k], float), np.asarray(d2[k], float), k)
    assert h1.stop_reason == h2.stop_reason
    for k, v in m1.state_dict().items():
        assert np.array_equal(v.numpy(), m2.state_dict()[k].numpy()), k
    assert s1.state_dict() == s2.state_dict()
    assert c1[0].state_dict()["best_epoch"] == c2[0].state_dict()["best_epoch"]
    assert c1[1].best_epoch == c2[1].best_epoch


def test_cli_resume_from_a_damaged_optimizer_entry_is_one_line(tmp_path, capsys):
    import json

    _cli("train", "--out", tmp_path, "--epochs", "1", "--no-plots", "--quiet")
    p = tmp_path / "checkpoint.safetensors"
    arrays, meta = io.load_file(p)
    state = json.loads(meta["nabla_checkpoint"])
    state["optimizer"]["state"]["__dict__"][0][1]["momentum_buffer"] = "damaged"
    meta["nabla_checkpoint"] = json.dumps(state)
    io.save(arrays, p, metadata=meta)
    capsys.readouterr()
    code = cli.main(["train", "--resume", str(p), "--epochs", "2", "--no-plots", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "momentum_buffer" in err and str(p) in err
