"""Why a deep tanh network learns or does not: looking inside with hooks.

Course idea: a deep network of tanh layers learns only when the signal that flows
forward and the gradient that flows back both keep a sensible size in every layer. Start
the weights too large and each layer's pre-activations are far beyond tanh's bend: its
outputs sit at -1 or +1 ("saturated"), where tanh is flat, so the gradient through it is
nearly zero and the layers below barely move. Start them at the right scale (the "gain"
5/3 for tanh, divided by the square root of the number of inputs) and the activations
spread over (-1, 1). Batch normalisation puts each layer's pre-activations back to mean
0 and std 1, whatever the weights, and so repairs a bad start by itself.

Three views tell the story, drawn from hooks (``register_forward_hook`` on each tanh
layer, ``register_hook`` on its output) by ``nabla.viz.TrainingMonitor``:

- the distribution of each layer's activations, with the fraction saturated (|a| > 0.97);
- the distribution of the gradient reaching each layer's output;
- for each weight matrix, log10 of the ratio std(update) / std(weights) over training:
  around -3 (a thousandth) is the customary healthy level; far below, a layer is stuck.

Data: the bundled 8x8 digits (64 inputs, 10 classes); a 64-100-100-100-100-100-10 tanh
network, SGD with learning rate 0.1, batches of 32.

Run:  python examples/11_training_diagnostics.py [--quick] [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla import nn, optim
from nabla.data.datasets import digits
from nabla.viz import TrainingMonitor

HIDDEN, DEPTH, LR, BATCH = 100, 5, 0.1, 32


def network(setup):
    """The same deep tanh MLP, initialised badly, well, or badly but with BatchNorm."""
    nabla.manual_seed(0)
    layers, width = [], 64
    for _ in range(DEPTH):
        linear = nn.Linear(width, HIDDEN, bias=setup != "batchnorm")
        with nabla.no_grad():
            if setup == "good":  # tanh's gain over sqrt(fan_in): Kaiming for tanh
                linear.weight.normal_(0.0, (5 / 3) / width ** 0.5)
            else:  # std 1: pre-activations of std ~sqrt(fan_in), far past tanh's bend
                linear.weight.normal_(0.0, 1.0)
        layers.append(linear)
        if setup == "batchnorm":
            layers.append(nn.BatchNorm1d(HIDDEN))
        layers.append(nn.Tanh())
        width = HIDDEN
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def train(setup, steps, X, y, X_test, y_test):
    model = network(setup)
    monitor = TrainingMonitor(model, every=max(1, steps // 50))
    opt = optim.SGD(model.parameters(), lr=LR)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        idx = nabla.tensor(rng.integers(0, len(y), BATCH))
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        monitor.step()
        losses.append(loss.item())
    monitor.remove()
    model.eval()
    with nabla.no_grad():
        accuracy = float((model(X_test).argmax(1) == y_test).float().mean())
    first = {name: h["act_saturated"][0] for name, h in monitor.history.items()}
    # Each hidden weight's typical update ratio over the second half of training (the
    # output layer's is left out: it is not behind the tanh layers).
    half = len(monitor.steps) // 2
    hidden = [float(np.median(v[half:])) for v in list(monitor.ratios.values())[:-1]]
    return {"monitor": monitor, "losses": losses, "accuracy": accuracy,
            "saturated_at_start": float(np.mean(list(first.values()))),
            "saturated_at_end": float(np.mean([h["act_saturated"][-1]
                                               for h in monitor.history.values()])),
            "update_ratio": float(np.median(hidden)),
            "ratio_spread": max(hidden) - min(hidden)}


def main(quick=False, out_dir=None):
    X, y = digits("train", flatten=True)
    X_test, y_test = digits("test", flatten=True)
    steps = 300 if quick else 2000
    results = {}
    for setup in ("bad", "good", "batchnorm"):
        r = results[setup] = train(setup, steps, X, y, X_test, y_test)
        print(f"{setup:>9} init: tanh saturated {r['saturated_at_start']:6.1%} at the start, "
              f"{r['saturated_at_end']:6.1%} at the end; hidden layers' log10 update ratio "
              f"{r['update_ratio']:+.2f} (spread {r['ratio_spread']:.2f}); final loss "
              f"{np.mean(r['losses'][-20:]):.3f}; test accuracy {r['accuracy']:.3f}")
    if out_dir is not None:
        _plot(results, Path(out_dir) / "11_training_diagnostics.png")
    return results


def _plot(results, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 11), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 3)
    titles = {"bad": "N(0, 1)", "good": "N(0, (5/3)²/fan_in)", "batchnorm": "N(0, 1) + BN"}
    for row, (setup, r) in zip(axes, results.items()):
        mon = r["monitor"]
        mon.plot_activations(ax=row[0])
        mon.plot_gradients(ax=row[1])
        mon.plot_update_ratios(ax=row[2])
        row[0].set_title(f"{titles[setup]}: activations ({r['saturated_at_end']:.0%} "
                         "saturated)", fontsize=10)
        row[1].set_title(f"{titles[setup]}: gradients at the tanh outputs", fontsize=10)
        row[2].set_title(f"{titles[setup]}: update / data; test accuracy "
                         f"{r['accuracy']:.2f}", fontsize=10)
    fig.suptitle("A deep tanh MLP on the 8x8 digits, three starts of its weights, seen "
                 "through hooks (rows: the start; columns: activations, gradients, updates)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument("--out", default="docs/images", help="where to write the picture")
    args = ap.parse_args()
    main(quick=args.quick, out_dir=args.out)
