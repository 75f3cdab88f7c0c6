"""expm1 and log1p are exact near zero (NumPy's expm1/log1p, not exp(x) - 1 or log(1 + x)),
as PyTorch's are: ELU, CELU and SELU build on expm1, and small steps must not round away."""

from __future__ import annotations

import numpy as np
import pytest

import nabla


@pytest.mark.parametrize("name", ["expm1", "log1p"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_value_and_gradient_match_torch_near_zero(name, dtype, torch):
    values = [-0.5, -1e-3, -1e-8, -1e-20, 0.0, 1e-20, 1e-8, 1e-3, 2.0]
    x = nabla.tensor(values, dtype=getattr(nabla, dtype), requires_grad=True)
    t = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    ours, theirs = getattr(x, name)(), getattr(t, name)()
    ours.sum().backward()
    theirs.sum().backward()
    rtol = 1e-6 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=0)


def test_elu_of_a_tiny_negative_is_its_input_times_alpha():
    x = nabla.tensor([-1e-10], dtype=nabla.float64)
    assert nabla.nn.functional.elu(x, 0.5).item() == pytest.approx(-0.5e-10, rel=1e-12)
    assert nabla.nn.ELU(0.5)(x).item() == nabla.nn.functional.elu(x, 0.5).item()
