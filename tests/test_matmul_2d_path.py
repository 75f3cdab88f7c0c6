"""2-D @ 2-D goes through ndarray.dot (the same BLAS call as @, less machinery): the
values, dtypes and gradients must be what NumPy's matmul gives."""

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
}


@pytest.mark.parametrize("name", list(CASES))
def test_values_and_dtypes_are_numpys_matmul(name):
    a, b = CASES[name]
    out = nabla.tensor(a) @ nabla.tensor(b)
    want = a @ b
    assert out.dtype == nabla.tensor(want).dtype
    np.testing.assert_array_equal(out.numpy(), want)


@pytest.mark.parametrize("name", ["float32", "transposed views", "mixed float32 and float64"])
def test_gradients_are_torchs(name):
    a, b = CASES[name]
    na, nb = nabla.tensor(a, requires_grad=True), nabla.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    g = rng.standard_normal((a.shape[0], b.shape[1]))
    (na @ nb).backward(nabla.tensor(g).to(na.dtype if a.dtype == b.dtype else nabla.float64))
    out = ta @ tb if a.dtype == b.dtype else ta.double() @ tb
    out.backward(torch.tensor(g).to(out.dtype))
    np.testing.assert_allclose(na.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nb.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert na.grad.dtype == na.dtype and nb.grad.dtype == nb.dtype


def test_shape_errors_name_the_shapes():
    with pytest.raises(nabla.ShapeError, match=r"\(2, 3\) and \(4, 5\)"):
        nabla.ones(2, 3) @ nabla.ones(4, 5)
