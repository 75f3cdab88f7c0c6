"""The sigmoid neuron: a smoothed-out perceptron, so small changes make small effects.

Course idea: a perceptron's step output jumps from 0 to 1, so a tiny change of a weight
can flip a decision completely; that makes learning by small nudges impossible. The
sigmoid neuron outputs σ(z) = 1 / (1 + e^(-z)) of the same z = w·x + b instead:

* σ(0) = 0.5, and for large |z| it saturates and behaves like the perceptron
  (σ(10) ≈ 1, σ(-10) ≈ 0);
* it is smooth: Δoutput ≈ σ'(z) · x_j · Δw_j, and since σ' = σ(1 - σ) ≤ 1/4, a weight
  change Δw_j moves the output by at most |Δw_j| · |x_j| / 4.

Run:  python examples/03_sigmoid_neuron.py [--out DIR]
"""

import argparse
from pathlib import Path

import nabla
from nabla import nn, viz

MAX_SLOPE = 0.25  # the largest value of σ'(z) = σ(z)(1 - σ(z)), reached at z = 0


def main(quick=False, out_dir=None):
    z = nabla.tensor([0.0, 10.0, -10.0], dtype=nabla.float64)
    s0, s_pos, s_neg = nabla.sigmoid(z).tolist()
    print(f"σ(0) = {s0}   σ(10) = {s_pos:.6f}   σ(-10) = {s_neg:.6f}  (saturation)")

    # A neuron sitting right at its decision boundary: z = w·x + b = -0.001.
    x = nabla.tensor([1.0, 2.0], dtype=nabla.float64)
    w = nabla.tensor([0.5, -0.25], dtype=nabla.float64, requires_grad=True)
    b = -0.001
    out = nabla.sigmoid((w * x).sum() + b)
    out.backward()  # w.grad[j] = σ'(z) · x_j: how sensitive the output is to w_j

    dw = 0.01  # nudge the first weight a little
    w_new = w.detach().clone()
    w_new[0] += dw
    out_new = nabla.sigmoid((w_new * x).sum() + b)
    d_sigmoid = out_new.item() - out.item()
    bound = dw * abs(x[0].item()) * MAX_SLOPE
    predicted = w.grad[0].item() * dw  # the first-order estimate σ'(z) x_j Δw_j

    # The perceptron with the same weights: its step output flips from 0 to 1.
    step_old = nn.Perceptron(weights=w.detach().numpy(), bias=b).predict(x).item()
    step_new = nn.Perceptron(weights=w_new.numpy(), bias=b).predict(x).item()
    print(f"Δw1 = {dw}:  sigmoid output {out.item():.6f} -> {out_new.item():.6f} "
          f"(Δ = {d_sigmoid:.8f}, σ'(z)·x1·Δw1 = {predicted:.8f}, bound "
          f"Δw·|x1|·max σ' = {bound:.8f})")
    print(f"           perceptron output {step_old} -> {step_new} (Δ = {step_new - step_old})")

    if out_dir is not None:
        # Each activation with its derivative (dashed): σ' peaks at 1/4, the step's
        # derivative is 0 everywhere it exists, so gradients cannot learn through it.
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        viz.plot_activations(["step", "sigmoid"], x_range=(-8, 8),
                             path=Path(out_dir) / "03_sigmoid_neuron.png")
    return {"sigma0": s0, "sigma10": s_pos, "sigma_minus10": s_neg,
            "z": (x * w.detach()).sum().item() + b, "dw": dw, "x1": x[0].item(),
            "delta_sigmoid": d_sigmoid, "first_order_estimate": predicted, "bound": bound,
            "step_before": step_old, "step_after": step_new}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(no effect: already instant)")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
