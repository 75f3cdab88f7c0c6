"""Softmax turns scores into probabilities; cross-entropy scores those probabilities.

Course idea: the network's last layer gives one score (logit) per class. The decision
is the argmax: the class with the biggest score. Softmax,
p_i = e^(z_i) / Σ_j e^(z_j), makes the scores into probabilities: all positive, summing
to 1, in the same order as the scores (so the argmax is unchanged), and differentiable,
which argmax is not. Multiplying the scores by a growing factor (an inverse
"temperature") makes softmax approach the one-hot vector of the argmax.

The cost for one example is the cross-entropy: -log(probability given to the true
class). It is 0 for a confident right answer and grows without bound for a confident
wrong one. ``nn.functional.cross_entropy`` computes it from the logits directly (in one
fused, numerically safe step) and averages it over the batch.

Run:  python examples/07_softmax_cross_entropy.py [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla.nn import functional as F

LOGITS = [2.0, 1.0, 0.1]
SCALES = [1.0, 2.0, 5.0, 20.0]


def main(quick=False, out_dir=None):
    z = nabla.tensor(LOGITS, dtype=nabla.float64)
    p = F.softmax(z, dim=0)
    print(f"logits {LOGITS} -> softmax {np.round(p.numpy(), 4).tolist()}, "
          f"sum = {p.sum().item():.6f}")
    print(f"argmax of the logits = {z.argmax().item()}, "
          f"argmax of the softmax = {p.argmax().item()}")
    scaled = {}
    for k in SCALES:  # bigger k = lower temperature = more confident
        scaled[k] = F.softmax(z * k, dim=0).numpy()
        print(f"softmax({k:4g} · logits) = {np.round(scaled[k], 4).tolist()}")

    # Cross-entropy on a small batch: four examples, three classes.
    logits = nabla.tensor([[2.0, 1.0, 0.1],     # true class 0: right and fairly sure
                           [2.0, 1.0, 0.1],     # true class 2: wrong
                           [0.0, 8.0, 0.0],     # true class 1: right and very sure
                           [0.0, 8.0, 0.0]],    # true class 0: wrong and very sure
                          dtype=nabla.float64)
    target = nabla.tensor([0, 2, 1, 0])
    probs = F.softmax(logits, dim=1).numpy()
    true_prob = probs[np.arange(4), target.numpy()]
    per_example = -np.log(true_prob)  # the course's definition, example by example
    ce = F.cross_entropy(logits, target)
    ce_each = F.cross_entropy(logits, target, reduction="none").numpy()
    for i in range(4):
        print(f"example {i}: p(true class) = {true_prob[i]:.4f}  -log p = "
              f"{per_example[i]:.4f}  cross_entropy = {ce_each[i]:.4f}")
    print(f"batch mean: -log p = {per_example.mean():.6f}, "
          f"F.cross_entropy = {ce.item():.6f}")

    if out_dir is not None:
        _plot(scaled, Path(out_dir) / "07_softmax_cross_entropy.png")
    return {"logits": LOGITS, "softmax": p.numpy().tolist(), "sum": p.sum().item(),
            "argmax_logits": z.argmax().item(), "argmax_softmax": p.argmax().item(),
            "scaled": {k: v.tolist() for k, v in scaled.items()},
            "batch_logits": logits.numpy().tolist(), "batch_target": target.tolist(),
            "true_prob": true_prob.tolist(), "minus_log_p": per_example.tolist(),
            "cross_entropy_each": ce_each.tolist(), "cross_entropy": ce.item()}


def _plot(scaled, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3))
    ax = fig.add_subplot(1, 2, 1)
    width = 0.8 / len(scaled)
    for i, (k, p) in enumerate(scaled.items()):
        ax.bar(np.arange(3) + (i - 1.5) * width, p, width, label=f"softmax({k:g}·z)")
    ax.set_xticks(range(3), [f"class {i}\nz = {v}" for i, v in enumerate(LOGITS)])
    ax.set_ylabel("probability")
    ax.set_title("Scaling the logits: softmax → one-hot argmax", fontsize=10)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 2, 2)
    q = np.linspace(0.005, 1, 200)
    ax.plot(q, -np.log(q))
    ax.set_xlabel("probability given to the true class")
    ax.set_ylabel("cross-entropy  -log p")
    ax.set_title("Confidently wrong costs the most", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(no effect: already instant)")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
