"""fit stops on a non-finite loss by default, with one clear line (issue 22)."""

import math
import warnings

import numpy as np

import nabla
from nabla import cli, nn, optim
from nabla.data import datasets
from nabla.train import fit


def _setup(lr):
    nabla.manual_seed(0)
    X, y = datasets.blobs(120, centers=[[-2, -2], [2, 2]], std=0.5)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    return model, optim.SGD(model.parameters(), lr=lr), X, y


def test_fit_stops_at_the_first_non_finite_loss_and_says_why(capsys):
    model, opt, X, y = _setup(1e30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's overflow warnings would bury the line
        h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), 5, batch_size=20, verbose=1)
    reason = h.stop_reason
    assert reason is not None and len(h) == 1, reason
    assert "at epoch 1, batch " in reason and "the last finite loss was" in reason
    assert "learning rate (1e+30) is probably too high" in reason
    assert reason in capsys.readouterr().err
    # It stopped before that batch's step: the weights are still finite.
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())
    assert math.isfinite(h["loss"][0])


def test_terminate_on_nan_false_trains_on():
    model, opt, X, y = _setup(1e30)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), 3, batch_size=20, verbose=0,
            terminate_on_nan=False)
    assert h.stop_reason is None and len(h) == 3 and math.isnan(h["loss"][-1])


def test_cli_shows_the_line_without_a_traceback(tmp_path, capsys):
    code = cli.main(["train", "--out", str(tmp_path), "--no-plots", "--quiet", "--lr", "1e30",
                     "--epochs", "3"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "TerminateOnNaN: the loss is" in lines[0], err
    assert "learning rate" in lines[0]
