"""Small PyTorch names that course code reaches for: the constants and the type tests."""

from __future__ import annotations

import math

import nabla


def test_constants_are_torchs(torch):
    for name in ("inf", "nan", "pi", "e"):
        ours, theirs = getattr(nabla, name), getattr(torch, name)
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), name


def test_is_tensor_and_is_floating_point():
    p = nabla.nn.Parameter(nabla.zeros(2))
    assert nabla.is_tensor(nabla.ones(1)) and nabla.is_tensor(p)
    assert not nabla.is_tensor([1.0]) and not nabla.is_tensor(1.0)
    assert nabla.is_floating_point(nabla.ones(1))
    assert not nabla.is_floating_point(nabla.ones(1, dtype=nabla.int64))
