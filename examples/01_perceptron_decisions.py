"""A perceptron makes a decision by weighing up evidence.

Course idea: a perceptron takes binary inputs x1, x2, x3, multiplies each by a weight
that says how much that piece of evidence matters, and outputs 1 when the weighted sum
exceeds a threshold (equivalently: when w·x + b > 0, with the bias b = -threshold).

Two decisions from the course:

* Weights (2, 6, 2) and threshold 5: the middle input alone outweighs the other two
  together (6 > 5, but 2 + 2 = 4 < 5), so the decision simply follows x2.
* Going surfing: the waves are good (x1 = 1), nobody comes along (x2 = 0), the weather
  is warm (x3 = 1); weights (5, 2, 4) and bias -3 give 5 + 0 + 4 - 3 = 6 > 0: go.

Run:  python examples/01_perceptron_decisions.py [--out DIR]
"""

import argparse
import itertools
from pathlib import Path

import numpy as np

from nabla import nn


def main(quick=False, out_dir=None):
    # -- 1. weighted evidence: weights 2, 6, 2 and threshold 5 ---------------------------
    p = nn.Perceptron(weights=[2, 6, 2], threshold=5)
    inputs = np.array(list(itertools.product([0, 1], repeat=3)))  # all 8 binary inputs
    decisions = p.predict(inputs).numpy()
    print("x1 x2 x3 | w.x  | output")
    weighted = inputs @ p.weight.numpy()  # w.x, compared against the threshold 5
    for x, z, out in zip(inputs, weighted, decisions):
        print(f" {x[0]}  {x[1]}  {x[2]} | {z:4.0f} | {out}")
    # Why: 6 alone beats the threshold 5, and 2 + 2 = 4 never does, so x2 decides.
    follows_middle = bool((decisions == inputs[:, 1]).all())
    print("the output equals the middle input in every case:", follows_middle)

    # -- 2. the surfing decision: bias instead of threshold --------------------------------
    surf = nn.Perceptron(weights=[5, 2, 4], bias=-3)
    evidence = [1, 0, 1]  # good waves, nobody to go with, warm weather
    z = float(surf.decision_function(evidence).item())
    go = int(surf.predict(evidence).item())
    print(f"surfing: w.x + b = 5*1 + 2*0 + 4*1 - 3 = {z:g}  ->  output {go} (go surfing)")

    if out_dir is not None:
        _plot(inputs, decisions, Path(out_dir) / "01_perceptron_decisions.png")
    return {
        "inputs": inputs.tolist(),
        "decisions": decisions.tolist(),
        "follows_middle_input": follows_middle,
        "threshold": p.threshold,
        "surf_z": z,
        "surf_output": go,
    }


def _plot(inputs, decisions, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.add_subplot()
    # One column per input pattern; the three inputs on top, the decision below.
    table = np.vstack([inputs.T, decisions[None]])
    ax.imshow(table, cmap="Greys", vmin=-0.3, vmax=1.3)
    for (r, c), v in np.ndenumerate(table):
        ax.text(c, r, str(v), ha="center", va="center", color="white" if v else "black")
    ax.set_yticks(range(4), ["x1 (w=2)", "x2 (w=6)", "x3 (w=2)", "output"])
    ax.set_xticks([])
    ax.axhline(2.5, color="tab:red", lw=2)
    ax.set_title("Perceptron, weights (2, 6, 2), threshold 5: the output follows x2")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(no effect: already instant)")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
