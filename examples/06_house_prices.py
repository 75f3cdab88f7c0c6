"""Linear regression: predict a house's price from its size and location, by gradient
descent on the mean squared error.

Course idea: a neuron with no activation is a linear model,
price ≈ w1 · size + w2 · location + b. The cost is the mean squared error (MSE) between
predicted and actual prices; gradient descent adjusts w1, w2 and b to make it small.
The data comes from a known rule (50 + 3 per m² + 200 for the best location, plus
noise), so we can check that the network rediscovers it.

Why standardise: size runs to 250 while location stays in [0, 1]; with raw features one
learning rate is far too big for one weight and far too small for the other. Scaled to
mean 0 and standard deviation 1, both learn at the same pace; afterwards the weights are
converted back to euros per m² and per unit of location.

Run:  python examples/06_house_prices.py [--quick] [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla import nn, optim
from nabla.data.datasets import house_prices
from nabla.data.datasets.toy import (
    HOUSE_PRICE_BASE,
    HOUSE_PRICE_LOCATION,
    HOUSE_PRICE_PER_M2,
)


def main(quick=False, out_dir=None):
    nabla.manual_seed(0)
    n, steps = (300, 200) if quick else (1000, 500)
    X, y = house_prices(n, seed=0)  # X: (size m², location 0..1); y: price (k€)
    mean, std = X.mean(0), X.std(0)
    y_mean, y_std = y.mean(), y.std()
    Xs, ys = (X - mean) / std, (y - y_mean) / y_std  # standardised features and target

    model = nn.Linear(2, 1)  # price = w·x + b: one neuron, no activation
    loss_fn = nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):  # full-batch gradient descent on the MSE
        loss = loss_fn(model(Xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()

    # Undo the scaling: price = y_mean + y_std * (w·(x - mean)/std + b).
    w = model.weight.detach().numpy()[0] * y_std.item() / std.numpy()
    b = y_mean.item() + y_std.item() * model.bias.item() - float(w @ mean.numpy())
    with nabla.no_grad():
        predicted = (model(Xs) * y_std + y_mean).numpy()[:, 0]
    actual = y.numpy()[:, 0]
    r2 = 1 - np.sum((actual - predicted) ** 2) / np.sum((actual - actual.mean()) ** 2)
    print(f"after {steps} steps: standardised MSE {loss.item():.4f}")
    print(f"learned  price = {b:6.2f} + {w[0]:.3f} * size + {w[1]:6.2f} * location")
    print(f"true     price = {HOUSE_PRICE_BASE:6.2f} + {HOUSE_PRICE_PER_M2:.3f} * size + "
          f"{HOUSE_PRICE_LOCATION:6.2f} * location   (+ noise)")
    print(f"R² = {r2:.4f}")

    if out_dir is not None:
        _plot(actual, predicted, r2, Path(out_dir) / "06_house_prices.png")
    return {"n": n, "steps": steps, "base": b, "per_m2": float(w[0]),
            "location": float(w[1]), "r2": float(r2), "mse": float(loss.item()),
            "X": X.numpy(), "y": actual}


def _plot(actual, predicted, r2, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 4))
    ax = fig.add_subplot()
    ax.scatter(actual, predicted, s=6, alpha=0.5)
    lims = [min(actual.min(), predicted.min()), max(actual.max(), predicted.max())]
    ax.plot(lims, lims, color="tab:red", lw=1, label="perfect prediction")
    ax.set_xlabel("actual price (k€)")
    ax.set_ylabel("predicted price (k€)")
    ax.set_title(f"House prices, linear model: R² = {r2:.3f}")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer houses and steps")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
