"""TrainingMonitor: its statistics against values computed by hand on a small network."""

import numpy as np
import pytest

import nabla
from nabla import nn, optim
from nabla.viz.monitor import DiagnosticsCallback, TrainingMonitor


def small_net():
    nabla.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    with nabla.no_grad():
        net[0].weight.mul_(4.0)  # push some units into saturation
    return net


def by_hand(net, x, lr):
    """Forward, the gradient at the tanh's output, and the SGD update, in NumPy."""
    w1, b1 = net[0].weight.numpy(force=True).copy(), net[0].bias.numpy(force=True).copy()
    w2, b2 = net[2].weight.numpy(force=True).copy(), net[2].bias.numpy(force=True).copy()
    h = np.tanh(x @ w1.T + b1)
    out = h @ w2.T + b2
    d_out = 2 * out / out.size                      # loss = mean(out ** 2)
    d_h = d_out @ w2
    d_w2 = d_out.T @ h
    d_w1 = ((d_h * (1 - h ** 2)).T @ x)
    return h, d_h, {"0.weight": (w1, -lr * d_w1), "2.weight": (w2, -lr * d_w2)}


def test_statistics_equal_the_hand_computed_ones():
    net, lr = small_net(), 0.05
    x = np.random.default_rng(1).standard_normal((16, 3))
    h, d_h, updates = by_hand(net, x, lr)
    mon = TrainingMonitor(net)
    opt = optim.SGD(net.parameters(), lr=lr)
    net(nabla.tensor(x)).pow(2).mean().backward()
    opt.step()
    mon.step()
    stats = mon.history["1:Tanh"]
    assert mon.layers == ["1:Tanh"] and mon.steps == [0]
    np.testing.assert_allclose(stats["act_mean"], [h.mean()])
    np.testing.assert_allclose(stats["act_std"], [h.std(ddof=1)])
    assert stats["act_saturated"] == [np.mean(np.abs(h) > 0.97)]
    assert 0 < stats["act_saturated"][0] < 1  # the case is not trivial
    np.testing.assert_allclose(stats["grad_mean"], [d_h.mean()])
    np.testing.assert_allclose(stats["grad_std"], [d_h.std(ddof=1)])
    np.testing.assert_allclose(mon.last["1:Tanh"]["grad"], d_h)
    for name, (w, update) in updates.items():
        expect = np.log10(update.std(ddof=1) / (w + update).std(ddof=1))
        np.testing.assert_allclose(mon.ratios[name], [expect], rtol=1e-9)
    assert sorted(mon.ratios) == ["0.weight", "2.weight"]  # biases are left out


def test_every_n_steps_and_remove():
    net = small_net()
    mon = TrainingMonitor(net, every=2)
    opt = optim.SGD(net.parameters(), lr=0.01)
    x = nabla.randn(4, 3, dtype=nabla.float64)
    for _ in range(5):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
        mon.step()
    assert mon.steps == [0, 2, 4] and len(mon.history["1:Tanh"]["act_mean"]) == 3
    mon.remove()
    net(x).pow(2).mean().backward()
    mon.step()
    assert mon.steps == [0, 2, 4]


def test_the_monitor_does_not_change_the_gradients():
    x = nabla.randn(8, 3, dtype=nabla.float64)
    plain = small_net()
    plain(x).pow(2).mean().backward()
    watched = small_net()
    TrainingMonitor(watched)
    watched(x).pow(2).mean().backward()
    for p, q in zip(plain.parameters(), watched.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_plots_are_written(tmp_path):
    net = small_net()
    mon = TrainingMonitor(net)
    opt = optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(nabla.randn(8, 3, dtype=nabla.float64)).pow(2).mean().backward()
        opt.step()
        mon.step()
    paths = mon.save_plots(tmp_path)
    assert all((tmp_path / p).stat().st_size > 1000 for p in paths)
    fig = mon.plot_update_ratios()
    assert fig.axes[0].get_ylabel() == "log10(update std / data std)"


def test_fit_callback_saves_the_plots(tmp_path):
    from nabla.data import DataLoader, TensorDataset
    from nabla.train import fit

    net = small_net()
    data = TensorDataset(nabla.randn(32, 3, dtype=nabla.float64), nabla.randn(32, 1,
                         dtype=nabla.float64))
    cb = DiagnosticsCallback(tmp_path, every=1)
    fit(net, nn.MSELoss(), optim.SGD(net.parameters(), lr=0.1),
        DataLoader(data, batch_size=8), epochs=2, callbacks=[cb], verbose=0, metrics=())
    assert len(cb.monitor.steps) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "diagnostics_activations.png", "diagnostics_gradients.png",
        "diagnostics_update_ratios.png"]


def test_a_model_without_watchable_layers_is_refused():
    with pytest.raises(ValueError, match="no layers of the kinds"):
        TrainingMonitor(nn.Sequential(nn.Flatten()))


def test_nabla_train_diagnostics_saves_the_plots_and_tensorboard_scalars(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("tensorboardX")
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(root / "src"), MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, "-m", "nabla", "train", "--epochs", "2",
                          "--diagnostics", "5", "--tensorboard", "--out", str(out), "-q"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    for kind in ("activations", "gradients", "update_ratios"):
        assert (out / f"diagnostics_{kind}.png").stat().st_size > 5000
    assert list((out / "tensorboard" / "diagnostics").glob("events.out.tfevents.*"))
