"""Classify MNIST digits with an LSTM that reads each image one row at a time.

Course idea: a recurrent network carries a state from step to step, so it can read a
sequence of any length. Here a 28x28 image is a sequence of 28 rows of 28 pixels; the
LSTM (hidden size 128) reads the rows top to bottom, and a linear layer classifies its
final hidden state. The whole 28-step sequence is one fused node of the graph
(``nabla.ops.recurrent``), so backpropagation through time costs one backward call.

Data: MNIST's four IDX files in ``--data DIR`` (``nabla train --dataset mnist
--download`` fetches them into ~/.cache/nabla/mnist); by default the 8,000-image
sample the project's CI provides for the tests (see the README's test section).

Run:  python examples/train_lstm_mnist.py [--epochs 10] [--data DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nabla
from nabla import nn
from nabla.data import DataLoader
from nabla.data.datasets import MNIST
from nabla.nn import functional as F
from nabla.nn.layers.recurrent import LSTM
from nabla.optim import Adam
from nabla.optim.lr_scheduler import CosineAnnealingLR

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"


class RowLSTM(nn.Module):
    """LSTM over the rows of an image, then a linear classifier on the last state."""

    def __init__(self, hidden=128, classes=10):
        super().__init__()
        self.lstm = LSTM(28, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, images):  # (B, 1, 28, 28) -> (B, 28 rows, 28 pixels)
        _, (h_n, _) = self.lstm(images.reshape(images.shape[0], 28, 28))
        return self.fc(h_n[-1])


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with nabla.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum().item())
            total += len(y)
    model.train()
    return correct / total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    nabla.manual_seed(args.seed)
    train = MNIST(args.data, train=True)
    test = MNIST(args.data, train=False)
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=500)
    model = RowLSTM()
    opt = Adam(model.parameters(), lr=args.lr)
    # Large steps early, small ones at the end: the last epochs settle instead of jitter.
    sched = CosineAnnealingLR(opt, T_max=args.epochs)
    print(f"{len(train)} training / {len(test)} test images; {model}")

    start, cpu = time.perf_counter(), time.process_time()
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # tame early LSTM spikes
            opt.step()
            total += loss.item() * len(y)
        sched.step()
        acc = evaluate(model, test_loader)
        print(f"epoch {epoch:2d}  train loss {total / len(train):.4f}  test accuracy "
              f"{acc:.2%}  ({time.perf_counter() - start:.1f} s wall, "
              f"{time.process_time() - cpu:.1f} s CPU)")
    return acc


if __name__ == "__main__":
    main()
