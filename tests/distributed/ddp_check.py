"""Run under mpirun with 2 ranks: DistributedDataParallel against one process.

Two ranks on half batches must train exactly as one process that averages the two
halves' losses (for BatchNorm, each half normalised on its own and the running
statistics following rank 0's half, since DDP broadcasts rank 0's buffers at each
forward). Prints "rank R: ok" at the end.
"""

import copy
import sys

import numpy as np

import nabla
import nabla.distributed as dist
from nabla import nn, optim
from nabla.nn.parallel import DistributedDataParallel as DDP


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3))


def batches(kind, steps, n=8):
    rng = np.random.default_rng(123)
    shape = (n, 6) if kind == "mlp" else (n, 1, 8, 8)
    return [(rng.standard_normal(shape), rng.integers(0, 3, n)) for _ in range(steps)]


def half(x, y, k):
    n = len(x) // 2
    return (nabla.tensor(x[k * n:(k + 1) * n], dtype=nabla.float64),
            nabla.tensor(y[k * n:(k + 1) * n]))


def reference_step(model, opt, x, y):
    """One process: the mean of the two halves' losses, rank 0's half updating buffers."""
    loss_fn = nn.CrossEntropyLoss()
    saved = {n: b.numpy().copy() for n, b in model.named_buffers()}
    loss1 = loss_fn(model(half(x, y, 1)[0]), half(x, y, 1)[1])
    with nabla.no_grad():
        for n, b in model.named_buffers():
            b.copy_(nabla.tensor(saved[n]))
    loss0 = loss_fn(model(half(x, y, 0)[0]), half(x, y, 0)[1])
    opt.zero_grad()
    ((loss0 + loss1) / 2).backward()
    opt.step()


def check(kind, make_opt, rank):
    nabla.manual_seed(0)
    start = (mlp if kind == "mlp" else cnn)().double()
    ref = copy.deepcopy(start)
    nabla.manual_seed(1000 + rank)  # every rank starts elsewhere: the broadcast fixes it
    local = (mlp if kind == "mlp" else cnn)().double()
    if rank == 0:
        local.load_state_dict(start.state_dict())
    model = DDP(local)
    ref_opt, opt = make_opt(ref.parameters()), make_opt(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    for x, y in batches(kind, 10):
        reference_step(ref, ref_opt, x, y)
        xs, ys = half(x, y, rank)
        opt.zero_grad()
        loss_fn(model(xs), ys).backward()
        opt.step()
    for (n, p), (_, q) in zip(model.module.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.numpy(force=True), q.numpy(force=True), rtol=1e-6,
                                   atol=1e-12, err_msg=f"{kind} {n}")
    if rank == 0:
        for (n, b), (_, c) in zip(model.module.named_buffers(), ref.named_buffers()):
            np.testing.assert_allclose(b.numpy(), c.numpy(), rtol=1e-6, err_msg=f"{kind} {n}")
    # the replicas are identical, bit for bit
    mine = np.concatenate([p.numpy(force=True).ravel() for p in model.parameters()])
    theirs = nabla.tensor(mine.copy())
    dist.broadcast(theirs, src=0)
    assert np.array_equal(mine, theirs.numpy()), f"{kind}: replicas differ"


def check_no_sync(rank):
    nabla.manual_seed(0)
    ref = mlp().double()
    model = DDP(copy.deepcopy(ref))
    loss_fn = nn.CrossEntropyLoss()
    (x1, y1), (x2, y2) = batches("mlp", 2)
    big_x, big_y = np.concatenate([x1, x2]), np.concatenate([y1, y2])
    loss_fn(ref(nabla.tensor(big_x)), nabla.tensor(big_y)).backward()
    with model.no_sync():
        xs, ys = half(x1, y1, rank)
        (loss_fn(model(xs), ys) / 2).backward()
    local_only = [p.grad.numpy().copy() for p in model.parameters()]
    xs, ys = half(x2, y2, rank)
    (loss_fn(model(xs), ys) / 2).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12)
    # inside no_sync nothing was averaged: the ranks' gradients differed there
    other = [nabla.tensor(g.copy()) for g in local_only]
    for g in other:
        dist.broadcast(g, src=0)
    assert rank == 0 or any(not np.allclose(a, b.numpy()) for a, b in zip(local_only, other))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.never = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0)


def check_unused(rank):
    nabla.manual_seed(0)
    model = DDP(Branches().double(), find_unused_parameters=True)
    x = nabla.tensor(np.full((2, 4), rank + 1.0))
    model(x, use_b=rank == 0).sum().backward()  # b is used on rank 0 only
    assert model.module.never.weight.grad is None  # unused everywhere: no gradient
    gb = model.module.b.weight.grad.numpy()
    np.testing.assert_allclose(gb, np.full((2, 4), 2.0) / 2)  # rank 0's, averaged with 0
    ga = model.module.a.weight.grad.numpy()
    np.testing.assert_allclose(ga, np.full((2, 4), (2.0 + 4.0) / 2))


def check_overlap(rank):
    """A bucket's allreduce starts during backward, before backward reaches the layers
    below it: with one parameter a bucket, the last layer's two buckets are in flight
    when the gradient arrives at the hidden activation."""
    nabla.manual_seed(0)
    model = DDP(mlp().double(), bucket_cap_mb=1e-5)
    started = []

    def watch(module, args, out):  # the gradient's arrival at the hidden activation
        out.register_hook(lambda g: started.append(model._next))

    model.module[1].register_forward_hook(watch)
    model(nabla.randn(4, 6, dtype=nabla.float64)).sum().backward()
    assert len(model._buckets) == 4 and started == [2], started
    assert model._next == 4 and all(b.work is None for b in model._buckets)


def check_mismatch(rank):
    try:
        DDP(nn.Linear(4, 3 if rank == 0 else 5))
    except ValueError as e:
        assert "rank 0 has parameter 'weight' of shape (3, 4)" in str(e), str(e)
        assert "rank 1 has parameter 'weight' of shape (5, 4)" in str(e), str(e)
    else:
        raise AssertionError("models that differ were accepted")


def main():
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    assert dist.get_world_size() == 2
    check("mlp", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), rank)
    check("mlp", lambda ps: optim.Adam(ps, lr=0.01), rank)
    check("cnn", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), rank)
    check("cnn", lambda ps: optim.Adam(ps, lr=0.01), rank)
    check_no_sync(rank)
    check_unused(rank)
    check_overlap(rank)
    check_mismatch(rank)
    dist.destroy_process_group()
    print(f"rank {rank}: ok", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
