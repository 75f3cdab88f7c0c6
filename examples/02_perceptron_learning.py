"""The perceptron learning rule, where it fails (XOR), and how a hidden layer fixes it.

Course idea: a perceptron can *learn* its weights. Show it an example; if it answers
wrongly, nudge the weights towards the right answer: w <- w + lr (y - ŷ) x and
b <- b + lr (y - ŷ). For data a straight line can separate (AND, OR), this provably
converges. XOR cannot be separated by one line, so the rule cycles forever; a network
with one hidden layer, trained by gradient descent, solves it.

Run:  python examples/02_perceptron_learning.py [--quick] [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla import nn, optim

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TRUTH = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def perceptron_rule(name):
    """Train a single perceptron on a truth table by the perceptron learning rule."""
    p = nn.Perceptron(2)
    result = p.fit(X, TRUTH[name], epochs=100, warn=False)
    predictions = p.predict(X).tolist()
    print(f"{name:3s}: converged={result.converged!s:5}  epochs={result.epochs:2d}  "
          f"mistakes per epoch={result.errors}  predictions={predictions}  "
          f"linearly separable={result.linearly_separable}")
    return p, result, predictions


def hidden_layer_xor(steps):
    """XOR by a 2-4-1 network: the hidden layer bends the input space so one line works."""
    nabla.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    loss_fn = nn.BCEWithLogitsLoss()  # one sigmoid output: "is it 1?"
    opt = optim.SGD(model.parameters(), lr=0.5)
    x, y = nabla.tensor(X), nabla.tensor(np.array(TRUTH["XOR"], dtype=np.float32)[:, None])
    for _ in range(steps):  # plain full-batch gradient descent on the cost
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with nabla.no_grad():
        predictions = (model(x).numpy()[:, 0] > 0).astype(int).tolist()
    accuracy = float(np.mean(np.array(predictions) == TRUTH["XOR"]))
    print(f"XOR with a hidden layer (2-4-1, {steps} gradient steps): loss={loss.item():.4f}"
          f"  predictions={predictions}  accuracy={accuracy:.0%}")
    return model, float(loss.item()), predictions, accuracy


def main(quick=False, out_dir=None):
    results = {}
    perceptrons = {}
    for name in ("AND", "OR", "XOR"):
        p, r, pred = perceptron_rule(name)
        perceptrons[name] = p
        results[name] = {"converged": r.converged, "epochs": r.epochs, "cycled": r.cycled,
                         "linearly_separable": r.linearly_separable, "predictions": pred,
                         "weights": p.weight.tolist(), "bias": float(p.bias.item())}
    # The rule fails on XOR: the weights come back to an earlier state, so it loops.
    model, loss, pred, acc = hidden_layer_xor(steps=600 if quick else 2000)
    results["XOR_mlp"] = {"loss": loss, "predictions": pred, "accuracy": acc}
    if out_dir is not None:
        _plot(perceptrons, model, Path(out_dir) / "02_perceptron_learning.png")
    return results


def _plot(perceptrons, model, path):
    from matplotlib.figure import Figure

    grid = np.linspace(-0.5, 1.5, 201, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = np.c_[gx.ravel(), gy.ravel()]
    fig = Figure(figsize=(10, 3.2))
    panels = [("AND", "AND: perceptron rule"), ("OR", "OR: perceptron rule"),
              ("XOR", "XOR: perceptron rule fails"), ("XOR_mlp", "XOR: one hidden layer")]
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, 4, i + 1)
        if key == "XOR_mlp":
            with nabla.no_grad():
                decision = model(nabla.tensor(points)).numpy()[:, 0] > 0
        else:
            decision = perceptrons[key].predict(points).numpy() > 0
        ax.contourf(gx, gy, decision.reshape(gx.shape), levels=[-0.5, 0.5, 1.5],
                    colors=["#dde6f5", "#f7dccc"])
        y = np.array(TRUTH["XOR" if key == "XOR_mlp" else key])
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 1, "tab:red", "tab:blue"), s=80,
                   edgecolors="k", zorder=3)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([0, 1])
        ax.set_yticks([0, 1])
        ax.set_aspect("equal")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
