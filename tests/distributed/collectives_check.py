"""Run under mpirun with 2+ ranks: every collective against NumPy, for three dtypes.

Each rank computes what every other rank holds (rank r's data is a function of r), so
the expected result of each collective is known locally. Prints one "ok" line per rank.
"""

import sys

import numpy as np

import nabla
import nabla.distributed as dist


def data(rank, dtype, shape=(2, 3)):
    return (np.arange(np.prod(shape)).reshape(shape) + 10 * rank + 1).astype(dtype)


def main():
    dist.init_process_group(backend="mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    everyone = {dt: np.stack([data(k, dt) for k in range(n)]) for dt in
                (np.float32, np.float64, np.int64)}
    for dt, all_data in everyone.items():
        for op, ref in ((dist.ReduceOp.SUM, all_data.sum(0)),
                        (dist.ReduceOp.PRODUCT, all_data.prod(0)),
                        (dist.ReduceOp.MIN, all_data.min(0)),
                        (dist.ReduceOp.MAX, all_data.max(0)),
                        (dist.ReduceOp.AVG, all_data.sum(0) / n)):
            t = nabla.tensor(data(r, dt))
            if op is dist.ReduceOp.AVG and dt is np.int64:
                try:
                    dist.all_reduce(t, op=op)
                except TypeError:
                    continue
                raise AssertionError("AVG of an int tensor did not raise")
            dist.all_reduce(t, op=op)
            np.testing.assert_allclose(t.numpy(), ref.astype(dt), rtol=1e-6)
            assert t.dtype == nabla.tensor(data(r, dt)).dtype
            t = nabla.tensor(data(r, dt))
            dist.all_reduce(t, op=op, async_op=True).wait()
            np.testing.assert_allclose(t.numpy(), ref.astype(dt), rtol=1e-6)
            t = nabla.tensor(data(r, dt))
            dist.reduce(t, dst=1, op=op)
            np.testing.assert_allclose(t.numpy(), (ref if r == 1 else data(r, dt)).astype(dt),
                                       rtol=1e-6)
        t = nabla.tensor(data(r, dt))
        dist.broadcast(t, src=1)
        np.testing.assert_array_equal(t.numpy(), data(1, dt))
        outs = [nabla.zeros(2, 3, dtype=nabla.tensor(data(0, dt)).dtype) for _ in range(n)]
        dist.all_gather(outs, nabla.tensor(data(r, dt)))
        for k in range(n):
            np.testing.assert_array_equal(outs[k].numpy(), data(k, dt))
        out = nabla.tensor(np.zeros((2 * n, 3), dt))
        dist.all_gather_into_tensor(out, nabla.tensor(data(r, dt)))
        np.testing.assert_array_equal(out.numpy(), np.concatenate(list(all_data)))
        out = nabla.tensor(np.zeros((n, 2, 3), dt))
        dist.all_gather_into_tensor(out, nabla.tensor(data(r, dt)))
        np.testing.assert_array_equal(out.numpy(), all_data)
        gl = [nabla.tensor(np.zeros((2, 3), dt)) for _ in range(n)] if r == 0 else None
        dist.gather(nabla.tensor(data(r, dt)), gl, dst=0)
        if r == 0:
            for k in range(n):
                np.testing.assert_array_equal(gl[k].numpy(), data(k, dt))
        got = nabla.tensor(np.zeros((2, 3), dt))
        sl = [nabla.tensor(data(k + 100, dt)) for k in range(n)] if r == 0 else None
        dist.scatter(got, sl, src=0)
        np.testing.assert_array_equal(got.numpy(), data(r + 100, dt))
        if r == 0:
            dist.send(nabla.tensor(data(7, dt)), dst=1)
        elif r == 1:
            got = nabla.tensor(np.zeros((2, 3), dt))
            assert dist.recv(got, src=0) == 0
            np.testing.assert_array_equal(got.numpy(), data(7, dt))
    # a non-contiguous tensor is reduced in place all the same
    base = nabla.tensor(data(r, np.float64, (3, 4)))
    view = base[:, ::2]
    dist.all_reduce(view)
    expect = sum(data(k, np.float64, (3, 4)) for k in range(n))[:, ::2]
    np.testing.assert_array_equal(base.numpy()[:, ::2], expect)
    # ranks that disagree on shape or dtype: every rank raises, naming both
    bad = nabla.zeros(3 if r == 0 else 4)
    try:
        dist.all_reduce(bad)
    except dist.DistributedError as e:
        assert "rank 0 has shape (3,)" in str(e) and "shape (4,)" in str(e), str(e)
    else:
        raise AssertionError("a shape mismatch did not raise")
    bad = nabla.zeros(3, dtype=nabla.float32 if r == 0 else nabla.float64)
    try:
        dist.broadcast(bad, src=0)
    except dist.DistributedError as e:
        assert "float32" in str(e) and "float64" in str(e), str(e)
    else:
        raise AssertionError("a dtype mismatch did not raise")
    dist.barrier()
    dist.destroy_process_group()
    print(f"rank {r} of {n}: ok", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
