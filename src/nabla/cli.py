"""The ``nabla`` command line."""

from __future__ import annotations

import argparse
import sys


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
        if step % (args.steps // 10) == 0:
            print(f"step {step:5d}  loss {loss.item():.6f}")
    print("predictions:", [round(v, 3) for v in pred.detach().reshape(-1).tolist()])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nabla", description="nabla: neural networks from first principles"
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="train a tiny network on XOR and print its loss")
    demo.add_argument("--steps", type=int, default=2000)
    demo.add_argument("--lr", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
