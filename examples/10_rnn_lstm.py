"""Recurrent networks: an RNN forecasts a noisy sine wave; an LSTM remembers.

Course idea: a recurrent network reads a sequence one step at a time and carries a
hidden state h_t = tanh(W_ih x_t + W_hh h_{t-1} + b) from step to step: the same weights
at every step, and a memory of what came before.

1. Forecasting: from the last 20 values of a noisy sine wave, predict the next one. The
   naive forecast "tomorrow = today" (repeat the last value) is the baseline to beat;
   the noise itself (standard deviation 0.1, so MSE 0.01) is a floor nobody can beat.
2. Memory: read a sequence of 8 random numbers and say whether the FIRST one was
   positive. The answer has to survive 7 more steps of input. An LSTM adds a cell state
   c_t = f ⊙ c_{t-1} + i ⊙ g with gates that decide what to keep, forget and write, so
   the information (and its gradient) can travel across many steps unchanged.

Run:  python examples/10_rnn_lstm.py [--quick] [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla import nn, optim

try:  # nabla.nn re-exports the recurrent layers in newer versions
    from nabla.nn import LSTM, RNN
except ImportError:
    from nabla.nn.layers.recurrent import LSTM, RNN

WINDOW, PERIOD, NOISE = 20, 25, 0.1
SEQ_LEN = 8


class LastState(nn.Module):
    """A recurrent layer, then a linear read-out of its final hidden state."""

    def __init__(self, cell, outputs):
        super().__init__()
        self.cell = cell
        self.head = nn.Linear(cell.hidden_size, outputs)

    def forward(self, x):
        _, h = self.cell(x)
        h_n = h[0] if isinstance(h, tuple) else h  # an LSTM returns (h_n, c_n)
        return self.head(h_n[-1])


def sine_windows(rng, n=1200):
    """Windows of WINDOW values from a noisy sine wave, each with the value that follows."""
    t = np.arange(n)
    series = (np.sin(2 * np.pi * t / PERIOD) + NOISE * rng.standard_normal(n)).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], WINDOW)
    return np.ascontiguousarray(windows[:, :, None]), series[WINDOW:, None]  # (N, T, 1)


def forecast(steps, rng):
    X, y = sine_windows(rng)
    split = 800  # train on the first part of the series, test on what comes later
    nabla.manual_seed(0)
    model = LastState(RNN(1, 16, batch_first=True), 1)
    opt = optim.Adam(model.parameters(), lr=0.01)
    # Anneal the learning rate to 0: the last steps polish instead of jumping about.
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(steps):
        idx = rng.integers(0, split, 64)  # a random mini-batch of windows
        loss = nn.functional.mse_loss(model(nabla.tensor(X[idx])), nabla.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    with nabla.no_grad():
        predicted = model(nabla.tensor(X[split:])).numpy()
    actual, last = y[split:], X[split:, -1]
    return {"rnn_mse": float(((predicted - actual) ** 2).mean()),
            "repeat_last_mse": float(((last - actual) ** 2).mean()),
            "noise_mse": NOISE**2, "predicted": predicted[:, 0], "actual": actual[:, 0],
            "last": last[:, 0]}


def remember_first(steps, rng):
    def batch(n):
        x = rng.uniform(-1, 1, (n, SEQ_LEN, 1)).astype(np.float32)
        return x, (x[:, 0, 0] > 0).astype(np.int64)  # label: was the first number > 0?

    nabla.manual_seed(0)
    model = LastState(LSTM(1, 16, batch_first=True), 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    curve = []
    for _ in range(steps):
        x, y = batch(64)
        logits = model(nabla.tensor(x))
        loss = nn.functional.cross_entropy(logits, nabla.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float((logits.detach().numpy().argmax(1) == y).mean()))
    x, y = batch(1000)  # fresh sequences the LSTM has never seen
    with nabla.no_grad():
        guess = model(nabla.tensor(x)).numpy().argmax(1)
    return {"accuracy": float((guess == y).mean()), "curve": curve, "labels": y,
            "guess": guess}


def main(quick=False, out_dir=None):
    rng = np.random.default_rng(0)
    f = forecast(steps=200 if quick else 600, rng=rng)
    print(f"RNN next-value forecast: test MSE {f['rnn_mse']:.4f}   repeat-last-value "
          f"baseline {f['repeat_last_mse']:.4f}   noise floor {f['noise_mse']:.4f}")
    m = remember_first(steps=300 if quick else 800, rng=rng)
    print(f"LSTM 'was the first of {SEQ_LEN} numbers positive?': accuracy "
          f"{m['accuracy']:.3f} on 1,000 new sequences (chance: 0.5)")
    if out_dir is not None:
        _plot(f, m, Path(out_dir) / "10_rnn_lstm.png")
    return {"forecast": f, "memory": m}


def _plot(f, m, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2))
    ax = fig.add_subplot(1, 2, 1)
    n = 75
    ax.plot(f["actual"][:n], "k.", ms=4, label="actual (noisy)")
    ax.plot(f["predicted"][:n], color="tab:red", label=f"RNN (MSE {f['rnn_mse']:.3f})")
    ax.plot(f["last"][:n], color="tab:grey", lw=0.8, ls="--",
            label=f"repeat last (MSE {f['repeat_last_mse']:.3f})")
    ax.set_title("Next-value forecast on unseen data", fontsize=10)
    ax.set_xlabel("time step")
    ax.legend(fontsize=7, loc="lower left")
    ax = fig.add_subplot(1, 2, 2)
    curve = np.convolve(m["curve"], np.ones(20) / 20, mode="valid")  # smoothed
    ax.plot(curve)
    ax.axhline(0.5, color="grey", ls="--", lw=0.8)
    ax.set_ylim(0.3, 1.02)
    ax.set_title(f"LSTM remembering the first of {SEQ_LEN} inputs", fontsize=10)
    ax.set_xlabel("training step")
    ax.set_ylabel("batch accuracy")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
