"""Guard rails for the indexing fast paths: they give what the general op path gives.

``Tensor.__getitem__`` hands basic indices (ints, slices, None, Ellipsis) of tensors that
record nothing straight to NumPy; the general path is ``GetItem.apply``. Binary ops with
a Python int or float skip the abc checks of ``_other``. No test here measures time.
"""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla.ops import movement as mv

BASIC = [3, -1, slice(2, 7), slice(None, None, 2), (1, 2), (slice(1, 3), 4), (None, 2),
         (Ellipsis, 1), (1, Ellipsis), (slice(0, 4), None, slice(1, 3)), (0, 0, 0)[:2]]


def _general(t, index):
    idx = index if isinstance(index, tuple) else (index,)
    idx = idx if Ellipsis in idx else idx + (Ellipsis,)
    return mv.GetItem.apply(t, idx, True)


@pytest.mark.parametrize("index", BASIC)
def test_fast_basic_index_is_the_general_one(index):
    t = nabla.from_numpy(np.arange(60, dtype=np.float32).reshape(6, 10))
    fast, slow = t[index], _general(t, index)
    assert type(fast) is nabla.Tensor and not fast.requires_grad and fast.grad_fn is None
    assert fast.shape == slow.shape and fast.dtype == slow.dtype
    np.testing.assert_array_equal(fast.numpy(), slow.numpy())
    assert np.shares_memory(fast._data, t._data)  # a view, 0-d results included


def test_fast_index_is_a_view_that_shares_the_version_counter():
    t = nabla.from_numpy(np.arange(10, dtype=np.int64))
    v = t[2:5]
    v += 1  # writes through to t, as PyTorch's views do
    assert t.tolist() == [0, 1, 3, 4, 5, 5, 6, 7, 8, 9]
    assert v._vc is t._vc
    e = t[4]
    assert e.ndim == 0 and int(e) == 5
    t[4] = 50
    assert int(e) == 50  # t[4] is a 0-d view, not a copy


def test_fast_index_with_tensor_bounds_and_iteration():
    data = nabla.from_numpy(np.arange(100, dtype=np.int64))
    ix = nabla.from_numpy(np.array([3, 50, 91]))
    x = nabla.stack([data[i:i + 8] for i in ix])
    np.testing.assert_array_equal(x.numpy(), np.stack([np.arange(i, i + 8) for i in (3, 50, 91)]))
    assert [int(i) for i in ix] == [3, 50, 91]


def test_fast_index_errors_name_the_shape():
    t = nabla.zeros(3, 4)
    with pytest.raises(IndexError, match=r"shape \(3, 4\)"):
        t[5]
    with pytest.raises(IndexError, match=r"shape \(3, 4\)"):
        t[1, 9]
    with pytest.raises(IndexError):
        t[0, 0, 0]


def test_tensors_that_record_and_other_indices_take_the_general_path():
    w = nabla.from_numpy(np.arange(12, dtype=np.float64).reshape(3, 4)).requires_grad_()
    y = w[1:, 2]
    assert y.grad_fn is not None
    y.sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, 2] = 1
    np.testing.assert_array_equal(w.grad.numpy(), expected)
    t = nabla.from_numpy(np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(t[[0, 2]].numpy(), t.numpy()[[0, 2]])  # advanced: a copy
    np.testing.assert_array_equal(t[True].numpy(), t.numpy()[True])  # bool: a mask
    np.testing.assert_array_equal(t[np.int64(1)].numpy(), t.numpy()[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("scalar", [2, 0.5, True, np.float64(0.5), np.int64(3)])
def test_python_number_operands_take_the_dtype_they_took_before(dtype, scalar):
    torch = pytest.importorskip("torch")
    a = np.array([1, 0, 3]).astype(dtype)
    if dtype is np.bool_ and isinstance(scalar, bool):
        return  # bool + bool is refused by both
    ours = (nabla.from_numpy(a) + scalar, scalar * nabla.from_numpy(a))
    theirs = (torch.from_numpy(a) + scalar, scalar * torch.from_numpy(a))
    for o, t in zip(ours, theirs):
        assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(o.numpy(), t.numpy())
