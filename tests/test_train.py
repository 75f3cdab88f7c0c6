"""nabla.train: metrics, History, the fit/evaluate/predict loop and the callbacks."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import nabla
from nabla import io, models, nn, optim
from nabla.data import DataLoader, TensorDataset, datasets
from nabla.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    TerminateOnNaN,
    evaluate,
    fit,
    metrics,
    predict,
)

# ------------------------------------------------------------------------------ metrics


def test_accuracy_hand_computed():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert metrics.accuracy(logits, [1, 0, 0, 0]) == 0.75
    assert metrics.accuracy(nabla.tensor(logits), nabla.tensor([1, 1, 1, 1])) == 0.5
    assert metrics.accuracy(np.array([2, 1, 0]), np.array([2, 1, 1])) == pytest.approx(2 / 3)
    # One-hot targets (MSE training) and a single probability column.
    assert metrics.accuracy(logits, np.eye(2)[[1, 0, 1, 1]]) == 0.75
    assert metrics.accuracy(np.array([[0.2], [0.7]]), np.array([0, 1])) == 1.0
    with pytest.raises(ValueError, match="do not match"):
        metrics.accuracy(logits, [0, 1])


def test_top_k_accuracy_hand_computed():
    scores = np.array([[0.1, 0.5, 0.4],    # target 2: second best -> in top 2
                       [0.7, 0.2, 0.1],    # target 2: last -> out
                       [0.3, 0.3, 0.4]])   # target 0: tied second -> in (ties favour)
    assert metrics.top_k_accuracy(scores, [2, 2, 0], k=1) == 0.0
    assert metrics.top_k_accuracy(scores, [2, 2, 0], k=2) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(scores, [2, 2, 0], k=3) == 1.0
    assert metrics.top_k_accuracy(scores, [1, 0, 2], k=1) == 1.0


def test_confusion_matrix_hand_computed():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2, 2]
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    assert np.array_equal(metrics.confusion_matrix(y_true, y_pred), expected)
    assert metrics.confusion_matrix(y_true, y_pred, num_classes=4).shape == (4, 4)
    scores = np.eye(3)[y_pred]  # scores instead of labels
    assert np.array_equal(metrics.confusion_matrix(y_true, scores), expected)
    with pytest.raises(ValueError, match="out of range"):
        metrics.confusion_matrix(y_true, y_pred, num_classes=2)
    big = np.random.default_rng(0).integers(0, 10, 10_000)
    assert metrics.confusion_matrix(big, big).trace() == 10_000


def test_precision_recall_f1_hand_computed_and_zero_division():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2, 2]
    r = metrics.precision_recall_f1(y_true, y_pred)
    # class 0: TP 1, FP 1, FN 1; class 1: TP 2, FP 1, FN 0; class 2: TP 2, FP 0, FN 1
    np.testing.assert_allclose(r["precision"], [1 / 2, 2 / 3, 1.0])
    np.testing.assert_allclose(r["recall"], [1 / 2, 1.0, 2 / 3])
    np.testing.assert_allclose(r["f1"], [1 / 2, 0.8, 0.8])
    assert r["support"].tolist() == [2, 2, 3]
    assert r["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert r["macro_f1"] == pytest.approx(0.7)
    # Class 2 never predicted, class 3 never present: their ratios are 0, not NaN.
    r = metrics.precision_recall_f1([0, 1, 2], [0, 1, 1], num_classes=4)
    assert r["precision"].tolist() == [1.0, 0.5, 0.0, 0.0]
    assert r["recall"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert r["f1"][2] == 0.0 and not np.isnan(r["f1"]).any()
    assert metrics.precision([0, 1, 2], [0, 1, 1], average="macro") == pytest.approx(0.5)
    assert metrics.recall([0, 1, 2], [0, 1, 1]).tolist() == [1.0, 1.0, 0.0]
    assert metrics.f1_score([0, 1, 2], [0, 1, 1], average="macro") == pytest.approx(
        (1 + 2 / 3 + 0) / 3)
    with pytest.raises(ValueError, match="average"):
        metrics.f1_score([0], [0], average="micro-ish")


def test_metrics_match_sklearn_where_installed():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    t, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    np.testing.assert_allclose(metrics.precision(t, p), sk.precision_score(t, p, average=None))
    np.testing.assert_allclose(metrics.f1_score(t, p, average="macro"),
                               sk.f1_score(t, p, average="macro"))
    assert np.array_equal(metrics.confusion_matrix(t, p), sk.confusion_matrix(t, p))


def test_get_metric():
    assert metrics.get_metric("accuracy").name == "accuracy"
    assert metrics.get_metric("top_k_accuracy").name == "top5_accuracy"
    assert metrics.get_metric(lambda o, t: 1.0).name == "<lambda>"
    with pytest.raises(ValueError, match="unknown metric 'auroc'"):
        metrics.get_metric("auroc")


# ------------------------------------------------------------------------------ History

def test_history_is_dict_like_and_backfills_missing_columns():
    h = History()
    h.append(1, {"loss": 1.0})
    h.append(2, {"loss": 0.5, "val_loss": 0.7})
    assert h["loss"] == [1.0, 0.5] and math.isnan(h["val_loss"][0])
    assert list(h) == ["loss", "val_loss"] and "loss" in h and len(h) == 2
    assert h.epochs == [1, 2] and h.last() == {"loss": 0.5, "val_loss": 0.7}
    assert h.best("val_loss") == (2, 0.7)
    with pytest.raises(KeyError, match="no 'accuracy' in the history"):
        h["accuracy"]


def test_history_csv_round_trip(tmp_path):
    h = History({"loss": [0.1234567890123, math.nan], "accuracy": [0.5, 0.75]}, epochs=[3, 4])
    h.to_csv(tmp_path / "h.csv")
    back = History.from_csv(tmp_path / "h.csv")
    assert back.epochs == [3, 4] and back["loss"][0] == 0.1234567890123
    assert math.isnan(back["loss"][1]) and back["accuracy"] == [0.5, 0.75]
    assert History.from_dict(h.to_dict()).to_dict().keys() == h.to_dict().keys()
    (tmp_path / "bad.csv").write_text("loss\n1\n")
    with pytest.raises(ValueError, match="not a history CSV"):
        History.from_csv(tmp_path / "bad.csv")


# --------------------------------------------------------------------------------- fit

def _blobs(n=200, seed=0):
    X, y = datasets.blobs(n, centers=[[-2, -2], [2, 2], [2, -2]], std=0.6, seed=seed)
    return X, y


def _setup(seed=0, lr=0.05):
    nabla.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, optim.Adam(model.parameters(), lr=lr)


def test_fit_learns_and_records_history():
    X, y = _blobs()
    Xv, yv = _blobs(60, seed=1)
    model, opt = _setup()
    g = nabla.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(X, y), batch_size=20, shuffle=True, generator=g)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, 8,
            val_data=DataLoader(TensorDataset(Xv, yv), batch_size=30),
            metrics=("accuracy", "top2_accuracy"), verbose=0)
    assert isinstance(h, History) and h.epochs == list(range(1, 9))
    assert list(h) == ["loss", "accuracy", "top2_accuracy", "val_loss", "val_accuracy",
                       "val_top2_accuracy", "lr"]
    assert h["loss"][-1] < h["loss"][0] / 3
    assert h["val_accuracy"][-1] > 0.95 and h["lr"] == [0.05] * 8
    result = evaluate(model, nn.CrossEntropyLoss(), (Xv, yv))
    assert result["loss"] == pytest.approx(h["val_loss"][-1])
    assert result["accuracy"] == h["val_accuracy"][-1]


def test_fit_accepts_tensor_pairs_and_checks_arguments():
    X, y = _blobs()
    model, opt = _setup()
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), 3, batch_size=50, val_data=(X, y),
            verbose=0)
    assert len(h) == 3 and "val_accuracy" in h
    loader = DataLoader(TensorDataset(X, y), batch_size=10)
    with pytest.raises(ValueError, match="batch_size is only used"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, 1, batch_size=5, verbose=0)
    with pytest.raises(ValueError, match="epochs must be"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, -1, verbose=0)


def test_train_and_eval_modes_and_no_grad_during_evaluation():
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, x):
            seen.append((self.training, nabla.is_grad_enabled()))
            return self.fc(x)

    X, y = _blobs(40)
    model = Spy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 1, batch_size=20, val_data=(X, y),
        verbose=0)
    assert seen[:2] == [(True, True), (True, True)]        # training batches
    assert seen[2:] == [(False, False), (False, False)]    # validation batches
    assert model.training  # fit leaves the model as training left it
    model.eval()
    evaluate(model, nn.CrossEntropyLoss(), (X, y), batch_size=40)
    assert not model.training  # evaluate restores the previous mode
    model.train()
    predict(model, X)
    assert model.training and nabla.is_grad_enabled()


def test_predict_outputs_and_classes():
    X, y = _blobs(50)
    model, opt = _setup()
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 20, batch_size=10, verbose=0)
    out = predict(model, X, batch_size=7)
    assert out.shape == (50, 3) and not out.requires_grad
    with nabla.no_grad():
        assert np.allclose(out.numpy(), model(X).numpy(), atol=1e-6)
    classes = predict(model, DataLoader(TensorDataset(X, y), batch_size=16), classes=True)
    assert classes.shape == (50,) and (classes.numpy() == y.numpy()).mean() > 0.9
    assert predict(model, X.numpy()[:3]).shape == (3, 3)


def test_reduce_lr_on_plateau_and_step_scheduler_are_stepped_per_epoch():
    X, y = _blobs(40)
    model, opt = _setup()
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), 3, batch_size=20, scheduler=sched,
            verbose=0)
    assert h["lr"] == [0.05, 0.025, 0.0125]
    model, opt = _setup(lr=1e-6)  # the loss barely moves: a plateau at once
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), 3, batch_size=40, val_data=(X, y),
            scheduler=plateau, verbose=0)
    assert h["lr"] == [1e-6, 1e-6, 5e-7]


def test_verbose_prints_one_line_per_epoch_without_a_terminal(capsys):
    X, y = _blobs(40)
    model, opt = _setup()
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 2, batch_size=20, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("epoch 1/2  loss ") and "accuracy" in out[0]
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 2, batch_size=20, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    X, y = _blobs(40)
    model, opt = _setup()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 2, batch_size=10, verbose=1)
    out, err = capsys.readouterr()
    # A bar per epoch on stderr while it runs (then cleared), the summaries on stdout.
    assert "epoch 1/2:" in err and "epoch 2/2:" in err and "/4 [" in err and "batch/s" in err
    assert [line[:11] for line in out.splitlines()] == ["epoch 1/2  ", "epoch 2/2  "]


def test_importing_nabla_and_fitting_quietly_import_no_heavy_modules():
    code = ("import sys, nabla, nabla.train, nabla.io, nabla.viz, nabla.models, nabla.cli\n"
            "from nabla import nn, optim\n"
            "from nabla.train import fit\n"
            "X = nabla.randn(20, 2); y = (X[:, 0] > 0).long()\n"
            "m = nn.Linear(2, 2)\n"
            "fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (X, y), 1,"
            " batch_size=10, verbose=1)\n"
            "heavy = [k for k in ('matplotlib', 'tqdm', 'safetensors', 'PIL', 'torch')"
            " if k in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("[]"), out


# --------------------------------------------------------------------------- callbacks

class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_end(self, step, logs=None):
        self.events.append(f"batch {step} {logs['epoch']}.{logs['batch']}")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_callback_hooks_order_and_trainer():
    X, y = _blobs(40)
    model, opt = _setup()
    rec = _Recorder()
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 2, batch_size=20, callbacks=[rec],
        verbose=0)
    assert rec.events == [
        "train_begin", "epoch_begin 1", "batch 1 1.1", "batch 2 1.2",
        "epoch_end 1 ['accuracy', 'loss', 'lr']", "epoch_begin 2", "batch 3 2.1",
        "batch 4 2.2", "epoch_end 2 ['accuracy', 'loss', 'lr']", "train_end"]
    assert rec.model is model and rec.trainer.step == 4


class _SetWeights(Callback):
    """Puts scripted weights in the model at each epoch's start (the optimizer has
    lr=0), so the validation loss of each epoch is known in advance."""

    def __init__(self, offsets):
        self.offsets = offsets

    def on_epoch_begin(self, epoch, logs=None):
        with nabla.no_grad():
            self.model.weight._data[...] = 1.0 + self.offsets[epoch - 1]
            self.model.bias._data[...] = 0.0


def _regression():
    X = nabla.from_numpy(np.linspace(-1, 1, 20, dtype=np.float32).reshape(-1, 1))
    return X, X * 1.0  # the perfect weight is 1.0


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = _regression()
    model = nn.Linear(1, 1)
    opt = optim.SGD(model.parameters(), lr=0.0)
    #          epoch:  1    2     3    4    5    6 (never reached)
    offsets = [0.5, 0.1, 0.3, 0.4, 0.6, 0.0]
    es = EarlyStopping(monitor="val_loss", patience=3, restore_best=True)
    h = fit(model, nn.MSELoss(), opt, (X, y), 6, batch_size=20, val_data=(X, y),
            callbacks=[_SetWeights(offsets), es], metrics=(), verbose=0)
    assert h.epochs == [1, 2, 3, 4, 5] and es.stopped_epoch == 5 and es.best_epoch == 2
    assert model.weight.item() == pytest.approx(1.1)  # epoch 2's weights restored
    assert es.restored and "EarlyStopping: val_loss has not improved for 3 epochs" \
        in h.stop_reason and "restored the weights of epoch 2" in h.stop_reason


def test_early_stopping_min_delta_mode_and_missing_monitor():
    X, y = _regression()
    model = nn.Linear(1, 1)
    opt = optim.SGD(model.parameters(), lr=0.0)
    # Improvements smaller than min_delta do not count: stop after epoch 1 + patience.
    es = EarlyStopping(monitor="loss", patience=2, min_delta=10.0)
    h = fit(model, nn.MSELoss(), opt, (X, y), 10, batch_size=20,
            callbacks=[_SetWeights([0.5, 0.4, 0.3, 0.2, 0.1] * 2), es], metrics=(), verbose=0)
    assert len(h) == 3 and not es.restored
    es = EarlyStopping(monitor="val_loss")
    with pytest.raises(ValueError, match="pass val_data to fit"):
        fit(model, nn.MSELoss(), opt, (X, y), 2, batch_size=20, callbacks=[es], verbose=0)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_terminate_on_nan_names_the_epoch_and_step(capsys):
    X, y = _blobs(50)
    model, opt = _setup()
    calls = [0]
    ce = nn.CrossEntropyLoss()

    def loss_fn(out, target):
        calls[0] += 1
        loss = ce(out, target)
        return loss * float("nan") if calls[0] == 7 else loss

    h = fit(model, loss_fn, opt, (X, y), 5, batch_size=10, callbacks=[TerminateOnNaN()],
            verbose=1, terminate_on_nan=False)
    # 5 batches per epoch: the 7th is epoch 2, batch 2.
    assert h.stop_reason == ("TerminateOnNaN: the loss is nan at epoch 2, step 7 (batch 2 of "
                             "the epoch); training stopped")
    assert h.epochs == [1, 2] and math.isnan(h["loss"][1])
    assert "TerminateOnNaN: the loss is nan at epoch 2, step 7" in capsys.readouterr().err
    # An infinite loss stops too.
    calls[0] = 0

    def inf_at_3(out, target):
        calls[0] += 1
        return ce(out, target) * (math.inf if calls[0] == 3 else 1.0)

    model, opt = _setup()
    h = fit(model, inf_at_3, opt, (X, y), 5, batch_size=10, callbacks=[TerminateOnNaN()],
            verbose=0, terminate_on_nan=False)
    assert "the loss is inf at epoch 1, step 3" in h.stop_reason and len(h) == 1


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    X, y = _blobs(40)
    model, opt = _setup()
    path = tmp_path / "log.csv"
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 3, batch_size=20, val_data=(X, y),
        callbacks=[CSVLogger(path)], verbose=0)
    rows = path.read_text().splitlines()
    assert rows[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr" and len(rows) == 4
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), 5, batch_size=20, val_data=(X, y),
        callbacks=[CSVLogger(path, append=True)], initial_epoch=3, verbose=0)
    rows = path.read_text().splitlines()
    assert len(rows) == 6 and rows[0].startswith("epoch,") and rows[-1].startswith("5,")
    h = History.from_csv(path)
    assert h.epochs == [1, 2, 3, 4, 5]


def test_model_checkpoint_best_only_and_training_state(tmp_path):
    X, y = _regression()
    model = nn.Linear(1, 1)
    opt = optim.SGD(model.parameters(), lr=0.0)
    pattern = str(tmp_path / "m-{epoch:02d}-{val_loss:.3f}.safetensors")
    mc = ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    fit(model, nn.MSELoss(), opt, (X, y), 4, batch_size=20, val_data=(X, y),
        callbacks=[_SetWeights([0.5, 0.1, 0.3, 0.05]), mc], metrics=(), verbose=0)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert [s[:4] for s in saved] == ["m-01", "m-02", "m-04"] and mc.best_epoch == 4
    assert io.load(tmp_path / saved[-1])["weight"].item() == pytest.approx(1.05)

    nabla.manual_seed(0)
    model = models.mlp(2, hidden=(4,), out_features=3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    Xb, yb = _blobs(40)
    ck = ModelCheckpoint(tmp_path / "ckpt.safetensors", training_state=True)
    g = nabla.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(Xb, yb), batch_size=10, shuffle=True, generator=g)
    fit(model, nn.CrossEntropyLoss(), opt, loader, 2, callbacks=[ck], verbose=0)
    state, arrays, meta = io.read_checkpoint(tmp_path / "ckpt.safetensors")
    assert (state["epoch"], state["step"]) == (2, 8) and "generator" in state
    assert state["extra"]["history"]["epoch"] == [1, 2]
    assert io.load_model(tmp_path / "ckpt.safetensors")._nabla_arch == model._nabla_arch
