"""Cases 1-3: multilayer perceptrons, nabla against PyTorch.

Case 3 also runs a ``numpy`` worker: the same eight matrix products one training step
of that network needs (three forward, five backward), straight NumPy calls into
preallocated outputs. Its FLOP/s is the ceiling nabla's step is measured against. A
``torch-mm`` worker runs the same products with ``torch.mm``: how much of PyTorch's lead
on this case is its matrix library rather than the rest of its step.
"""

from __future__ import annotations

import numpy as np

from . import Case, Workload, cycle, import_lib, load, training_step, uniform_init

N_BATCHES = 16  # distinct batches the steps cycle through


def _shapes(sizes):
    shapes = {}
    for i in range(len(sizes) - 1):
        shapes[f"{2 * i}.weight"] = (sizes[i + 1], sizes[i])
        shapes[f"{2 * i}.bias"] = (sizes[i + 1],)
    return shapes


def matmul_flops(sizes, batch):
    """Multiply-adds x 2 of one step: every layer's forward and weight gradient, and the
    input gradient of every layer but the first (the data needs none)."""
    per_layer = [sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)]
    return 2.0 * batch * (3 * sum(per_layer) - per_layer[0])


def _mlp_workload(lib_name, sizes, batch, act, loss, lr, seed):
    lib = import_lib(lib_name)
    nn = lib.nn
    rng = np.random.default_rng(seed)
    weights = uniform_init(rng, _shapes(sizes))
    n = batch * N_BATCHES
    x = rng.random((n, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], n)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or loss == "mse":
            layers.append(nn.ReLU() if act == "relu" else nn.Sigmoid())
    # Parameters sit at even positions: "0.weight", "2.weight", ... as in _shapes.
    model = nn.Sequential(*layers)
    load(lib, model, weights)
    if loss == "mse":
        target = np.eye(sizes[-1], dtype=np.float32)[labels]
        loss_fn = nn.MSELoss()
    else:
        target = labels
        loss_fn = nn.CrossEntropyLoss()
    X, T = lib.from_numpy(x), lib.from_numpy(target)
    batches = [(X[i:i + batch], T[i:i + batch]) for i in range(0, n, batch)]
    opt = lib.optim.SGD(model.parameters(), lr=lr)
    step = training_step(model, loss_fn, opt, cycle(batches))
    return Workload(step, batch, matmul_flops(sizes, batch))


def _matmuls_only(sizes, batch, lib="numpy", seed=0):
    """Only the matrix products of one training step, into reused outputs: NumPy's
    ``matmul``, or ``torch.mm`` for ``lib="torch-mm"`` (the same layouts: the weights'
    transposes and the activations' are views)."""
    rng = np.random.default_rng(seed)
    if lib == "numpy":
        conv, empty = (lambda a: a), (lambda shape: np.empty(shape, np.float32))

        def mm(a, b, out):
            np.matmul(a, b, out=out)
    else:
        torch = import_lib("torch")
        conv, empty = torch.from_numpy, (lambda shape: torch.empty(shape))

        def mm(a, b, out):
            torch.mm(a, b, out=out)
    ws = [conv(rng.random((sizes[i + 1], sizes[i]), dtype=np.float32))
          for i in range(len(sizes) - 1)]
    acts = [conv(rng.random((batch, s), dtype=np.float32)) for s in sizes]
    fwd = [empty((batch, s)) for s in sizes[1:]]
    gws = [empty(tuple(w.shape)) for w in ws]
    gxs = [empty((batch, s)) for s in sizes[:-1]]

    def step():
        for i, w in enumerate(ws):
            mm(acts[i], w.T, fwd[i])
        for i in reversed(range(len(ws))):
            g = acts[i + 1]
            mm(g.T, acts[i], gws[i])
            if i:
                mm(g, ws[i], gxs[i])
        return np.float32(0)

    return Workload(step, batch, matmul_flops(sizes, batch))


def case1(lib):
    return _mlp_workload(lib, [784, 128, 64, 10], 64, "relu", "ce", 0.01, seed=1)


def case2(lib):
    return _mlp_workload(lib, [784, 30, 10], 10, "sigmoid", "mse", 3.0, seed=2)


BIG = [784, 1024, 1024, 10]


def case3(lib):
    if lib in ("numpy", "torch-mm"):
        return _matmuls_only(BIG, 1024, lib)
    return _mlp_workload(lib, BIG, 1024, "relu", "ce", 0.01, seed=3)


CASES = [
    Case("1", "MLP 784-128-64-10, ReLU, cross-entropy, SGD, batch 64", ("nabla", "torch"),
         case1, target=1.25, steps=40, quick_steps=3),
    Case("2", "Nielsen's 784-30-10, sigmoid, MSE, SGD, batch 10", ("nabla", "torch"),
         case2, target=2.5, steps=100, quick_steps=3),
    Case("3", "MLP 784-1024-1024-10, ReLU, cross-entropy, SGD, batch 1024",
         ("nabla", "torch", "numpy", "torch-mm"), case3, target=1.0, steps=2, quick_steps=1),
]
