"""Train LeNet-5 on MNIST digits: convolution, pooling, and a small classifier on top.

Course idea: a convolutional network learns its own filters. Two convolution + ReLU +
max-pooling stages turn a 28x28 image into 16 feature maps of 5x5 (each filter shared
across the whole image, each pooling step keeping the strongest local response), and
three fully connected layers classify the 400 features. LeNet-5 (LeCun et al., 1998)
has about 61,000 weights, far fewer than an MLP of similar accuracy.

    conv 1->6 5x5 pad 2, ReLU, maxpool 2     28x28 -> 6 x 14x14
    conv 6->16 5x5, ReLU, maxpool 2          -> 16 x 5x5
    400 -> 120 -> 84 -> 10 with ReLUs

Data: MNIST's four IDX files in ``--data DIR`` (``nabla train --dataset mnist
--download`` fetches them into ~/.cache/nabla/mnist); by default the 8,000-image
sample the project's CI provides for the tests (see the README's test section).

Run:  python examples/train_lenet.py [--epochs 15] [--shift 1] [--data DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import nabla
from nabla import nn
from nabla.data import DataLoader
from nabla.data.datasets import MNIST
from nabla.nn import functional as F
from nabla.nn.layers.conv import Conv2d
from nabla.nn.layers.pooling import MaxPool2d
from nabla.optim import Adam
from nabla.optim.lr_scheduler import CosineAnnealingLR

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"


def lenet5(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        Conv2d(1, 6, 5, padding=2), nn.ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5), nn.ReLU(), MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )


def random_shift(x, max_shift, rng):
    """Translate each image by up to ``max_shift`` pixels each way (zero fill): with only
    7,000 training images this augmentation is what keeps the network from memorising
    them. One fancy-index gathers every shifted crop at once, no loop over images."""
    b, c, h, w = x.shape
    m = max_shift
    padded = nabla.pad(x, (m, m, m, m)).numpy()
    dy, dx = rng.integers(0, 2 * m + 1, size=(2, b))
    rows = (dy[:, None] + np.arange(h))[:, None, :, None]
    cols = (dx[:, None] + np.arange(w))[:, None, None, :]
    out = padded[np.arange(b)[:, None, None, None], np.arange(c)[None, :, None, None],
                 rows, cols]
    return nabla.tensor(out)


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with nabla.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum().item())
            total += len(y)
    model.train()
    return correct / total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shift", type=int, default=1,
                   help="random translation of training images, in pixels (0: none)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    nabla.manual_seed(args.seed)
    train = MNIST(args.data, train=True)
    test = MNIST(args.data, train=False)
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=500)
    model = lenet5()
    opt = Adam(model.parameters(), lr=args.lr)
    # Large steps early, small ones at the end: the last epochs settle instead of jitter.
    sched = CosineAnnealingLR(opt, T_max=args.epochs)
    n_params = sum(q.numel() for q in model.parameters())
    print(f"{len(train)} training / {len(test)} test images; LeNet-5, {n_params} weights")

    start, cpu = time.perf_counter(), time.process_time()
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for x, y in train_loader:
            if args.shift:
                x = random_shift(x, args.shift, rng)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
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
