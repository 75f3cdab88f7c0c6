"""Gradient descent on a one-parameter cost, with the course's stop rule.

Course idea: to find the w that makes a cost C(w) smallest, start somewhere and
repeatedly step downhill: w <- w - learning_rate · C'(w). The step size
|learning_rate · C'(w)| shrinks by itself as the slope flattens near the minimum, so
stop when it is tiny (<= 0.001), or after at most 1000 steps in case it never is.
A learning rate that decays (here multiplied by 0.98 every step) takes big steps early
and careful ones late.

Here C(w) = (w - 3)² + 1, whose minimum is C = 1 at w = 3, starting from w = -2.

Run:  python examples/05_gradient_descent.py [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

from nabla.optim import minimize

W_MIN, C_MIN, W_START = 3.0, 1.0, -2.0
TOL, MAX_STEPS = 0.001, 1000


def cost(w):
    return (w - W_MIN) ** 2 + C_MIN


def main(quick=False, out_dir=None):
    # lr 0.9 overshoots: each step jumps across the valley (C'' = 2, so w - 3 is
    # multiplied by 1 - 2·0.9 = -0.8). Decay calms the zig-zag down.
    constant = minimize(cost, W_START, lr=0.9, tol=TOL, max_steps=MAX_STEPS)
    decaying = minimize(cost, W_START, lr=0.9, tol=TOL, max_steps=MAX_STEPS, schedule=0.98)
    # Beware: decay too fast (say 0.5) and the steps die out before the minimum is
    # reached; the stop rule then fires far from w = 3.
    for name, r in (("constant lr 0.9", constant), ("lr 0.9 · 0.98^step", decaying)):
        print(f"{name:20s}: converged={r.converged} after {r.steps} steps, "
              f"w = {r.params.item():.5f}, C(w) = {r.costs[-1]:.7f}, "
              f"last step size = {r.step_sizes[-1]:.6f}, last lr = {r.lrs[-1]:.4f}")

    if out_dir is not None:
        _plot({"constant lr 0.9": constant, "lr 0.9 · 0.98^step": decaying},
              Path(out_dir) / "05_gradient_descent.png")

    def numbers(r):
        return {"converged": r.converged, "steps": r.steps, "w": float(r.params.item()),
                "cost": float(r.costs[-1]), "last_step": float(r.step_sizes[-1]),
                "step_sizes": r.step_sizes.tolist(), "path": r.path.tolist(),
                "lrs": r.lrs.tolist()}

    return {"w_min": W_MIN, "cost_min": C_MIN, "tol": TOL, "max_steps": MAX_STEPS,
            "decaying": numbers(decaying), "constant": numbers(constant)}


def _plot(runs, path):
    from matplotlib.figure import Figure

    w = np.linspace(-3, 9, 300)
    fig = Figure(figsize=(9, 3.4))
    for i, (name, r) in enumerate(runs.items()):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.plot(w, (w - W_MIN) ** 2 + C_MIN, color="grey", lw=1.5, label="C(w) = (w-3)² + 1")
        ax.plot(r.path, r.costs, "o-", ms=4, lw=0.8, color="tab:red",
                label=f"{r.steps} steps, stops at w = {r.params.item():.4f}")
        ax.set_title(name)
        ax.set_xlabel("w")
        ax.set_ylabel("cost C(w)")
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(no effect: already instant)")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
