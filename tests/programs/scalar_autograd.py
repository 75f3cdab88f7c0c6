"""A scalar-autograd exercise, as in the courses that build an autograd engine and then test
it against the library: one-element tensors with `requires_grad`, `.backward()`, `.grad`,
gradients of an expression checked against finite differences, then a single neuron fitted
to a few points with hand-written gradient descent on `.grad`.

Run with LIB=torch or LIB=nabla (and SEED=n); prints the final loss on the last line.
"""

import math
import os
import random

if os.environ.get("LIB", "torch") == "nabla":
    import nabla as torch
else:
    import torch


def expr(a, b):
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def test_sanity_check():
    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    # y = 9x^2+6x+4 ... computed by hand: y = (3x+2)^2 + (3x+2)x + (3x+2)x^2 when z < 0
    xv = -4.0
    want = 2 * (3 * xv + 2) * 3 + (6 * xv + 2) + (9 * xv**2 + 4 * xv)
    assert abs(x.grad.item() - want) < 1e-9, (x.grad.item(), want)
    assert y.data.item() == (3 * xv + 2) ** 2 + (3 * xv + 2) * xv + (3 * xv + 2) * xv**2


def test_more_ops():
    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    g = expr(a, b)
    g.backward()
    eps = 1e-6
    for name, t in (("a", a), ("b", b)):
        av, bv = a.item(), b.item()
        lo = expr(torch.tensor(av - eps if name == "a" else av, dtype=torch.float64),
                  torch.tensor(bv - eps if name == "b" else bv, dtype=torch.float64))
        hi = expr(torch.tensor(av + eps if name == "a" else av, dtype=torch.float64),
                  torch.tensor(bv + eps if name == "b" else bv, dtype=torch.float64))
        fd = (hi.item() - lo.item()) / (2 * eps)
        assert math.isclose(t.grad.item(), fd, rel_tol=1e-5), (name, t.grad.item(), fd)


test_sanity_check()
test_more_ops()
print("gradient checks passed")

# one neuron, tanh(w1*x1 + w2*x2 + b), fitted to four points by gradient descent
random.seed(int(os.environ.get("SEED", "0")))
xs = [[2.0, 3.0], [3.0, -1.0], [0.5, 1.0], [1.0, 1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
params = [torch.tensor([random.uniform(-1, 1)], requires_grad=True) for _ in range(3)]
w1, w2, b = params
for k in range(60):
    loss = torch.tensor([0.0])
    for (x1, x2), yt in zip(xs, ys):
        ypred = (w1 * x1 + w2 * x2 + b).tanh()
        loss = loss + (ypred - yt) ** 2
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data -= 0.05 * p.grad
    if k % 20 == 0:
        print(k, f"{loss.item():.6f}")
print("final loss", loss.item())
