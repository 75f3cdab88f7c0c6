"""2-D @ 2-D goes through ndarray.dot below 2^20 multiply-adds (the same BLAS call as @,
less machinery) and np.matmul from there on (``linalg._mm``): the values, dtypes and
gradients must be what NumPy's matmul gives."""

from __future__ import annotations

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
CASES = {
    "float32": (rng.standard_normal((5, 7)).astype(np.float32),
                rng.standard_normal((7, 3)).astype(np.float32)),
    "transposed views": (rng.standard_normal((7, 5)).T, rng.standard_normal((3, 7)).T),
    "mixed float32 and float64": (rng.standard_normal((4, 6)).astype(np.float32),
                                  rng.standard_normal((6, 2))),
    "int64": (rng.integers(-5, 5, (3, 4)), rng.integers(-5, 5, (4, 2))),
    # Above linalg._MATMUL_FROM: a GPT layer's shape, where ndarray.dot rounds otherwise.
    "large float32": (rng.standard_normal((512, 64)).astype(np.float32),
                      rng.standard_normal((256, 64)).astype(np.float32).T),
    "large int64": (rng.integers(-5, 5, (256, 64)), rng.integers(-5, 5, (64, 128))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_values_and_dtypes_are_numpys_matmul(name):
    a, b = CASES[name]
    out = nabla.tensor(a) @ nabla.tensor(b)
    want = a @ b
    assert out.dtype == nabla.tensor(want).dtype
    np.testing.assert_array_equal(out.numpy(), want)


@pytest.mark.parametrize("name", ["float32", "transposed views", "mixed float32 and float64",
                                  "large float32"])
def test_gradients_are_torchs(name):
    a, b = CASES[name]
    na, nb = nabla.tensor(a, requires_grad=True), nabla.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    g = rng.standard_normal((a.shape[0], b.shape[1]))
    (na @ nb).backward(nabla.tensor(g).to(na.dtype if a.dtype == b.dtype else nabla.float64))
    out = ta @ tb if a.dtype == b.dtype else ta.double() @ tb
    out.backward(torch.tensor(g).to(out.dtype))
    # Within float32 rounding of sums of up to 512 products (relative to the largest
    # value: an entry near 0 cancels), in whatever order each library's kernels add.
    for n, t in ((na.grad.numpy(), ta.grad.numpy()), (nb.grad.numpy(), tb.grad.numpy())):
        np.testing.assert_allclose(n, t, rtol=1e-5, atol=max(1e-6, 2e-6 * np.abs(t).max()))
    assert na.grad.dtype == na.dtype and nb.grad.dtype == nb.dtype


def test_shape_errors_name_the_shapes():
    with pytest.raises(nabla.ShapeError, match=r"\(2, 3\) and \(4, 5\)"):
        nabla.ones(2, 3) @ nabla.ones(4, 5)


class _CountingNumpy:
    """numpy, with np.matmul's calls counted (for linalg's module-level ``np``)."""

    def __init__(self):
        self.calls = 0

    def matmul(self, *args, **kwargs):
        self.calls += 1
        return np.matmul(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("batch, calls", [(512, 3), (8, 0)])
def test_big_products_take_np_matmul_small_ones_ndarray_dot(monkeypatch, batch, calls):
    # A 64 -> 64 Linear layer: forward, input gradient and weight gradient are 2^21
    # multiply-adds at batch 512 (np.matmul: 1.5x faster there), 2^15 at batch 8.
    from nabla.ops import linalg

    spy = _CountingNumpy()
    monkeypatch.setattr(linalg, "np", spy)
    layer = nabla.nn.Linear(64, 64)
    x = nabla.randn(batch, 64, requires_grad=True)
    layer(x).sum().backward()
    assert spy.calls == calls
    assert x.grad.shape == (batch, 64) and layer.weight.grad.shape == (64, 64)


@pytest.mark.parametrize("swap", [(0, 1), (1, 2)])
def test_linear_over_a_transposed_3d_view(swap):
    """A 3-D input that is a transposed view (attention in the sequence-first layout)
    is copied and multiplied as one matrix: that product's bits, and PyTorch's values
    and gradients."""
    x0 = rng.standard_normal((35, 20, 64) if swap == (0, 1) else (35, 64, 20))
    x0 = x0.astype(np.float32)
    w0 = rng.standard_normal((48, 64)).astype(np.float32)
    b0 = rng.standard_normal(48).astype(np.float32)
    view = np.swapaxes(x0, *swap)
    g0 = rng.standard_normal(view.shape[:-1] + (48,)).astype(np.float32)
    got, want = [], []
    for lib, out in ((nabla, got), (torch, want)):
        x = lib.tensor(x0, requires_grad=True)
        w, b = lib.tensor(w0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        v = x.transpose(*swap)
        if lib is nabla:
            assert not v._data.flags.c_contiguous
        y = lib.nn.functional.linear(v, w, b)
        y.backward(lib.tensor(g0))
        out += [y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
    # The bits of the one product over the copy (NumPy's matmul over the view makes one
    # call a slice, and OpenBLAS's Haswell kernels round some outputs otherwise then).
    expected = np.matmul(np.ascontiguousarray(view).reshape(-1, 64), w0.T)
    expected = expected.reshape(view.shape[:-1] + (48,)) + b0
    np.testing.assert_array_equal(got[0], expected)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
