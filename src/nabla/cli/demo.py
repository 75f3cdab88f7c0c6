"""``nabla demo``: a tiny network learning XOR by hand."""

from __future__ import annotations


def _demo(args) -> int:
    """Train a 2-16-16-1 network on XOR and print the loss falling."""
    import nabla

    nabla.manual_seed(args.seed)
    x = nabla.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = nabla.tensor([[0.0], [1.0], [1.0], [0.0]])
    w1 = (nabla.randn(16, 2) * 0.7).requires_grad_()
    b1 = nabla.zeros(16, requires_grad=True)
    w2 = (nabla.randn(1, 16) * 0.25).requires_grad_()
    b2 = nabla.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    print("nabla demo: learning XOR with a 2-16-16-1 network (tanh, then sigmoid) by plain "
          "gradient descent on the mean squared error")
    print("inputs (0,0) (0,1) (1,0) (1,1) -> targets 0 1 1 0 (1 where exactly one input is 1)")
    for step in range(args.steps + 1):
        hidden = nabla.linear(x, w1, b1).tanh()
        pred = nabla.linear(hidden, w2, b2).sigmoid()
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with nabla.no_grad():
            for p in params:
                p -= args.lr * p.grad
        if step % max(1, args.steps // 10) == 0:
            print(f"step {step:5d}  loss {loss.item():.6f}")
    values = pred.detach().reshape(-1).tolist()
    print("predictions for (0,0) (0,1) (1,0) (1,1):", " ".join(f"{v:.3f}" for v in values),
          "(targets 0 1 1 0)")
    return 0
