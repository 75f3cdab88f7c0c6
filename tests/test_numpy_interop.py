"""nabla and NumPy (and PyTorch) sharing memory: ``np.asarray``, ``from_numpy``, ufuncs,
mixed ``ndarray``/Tensor arithmetic, and DLPack both ways."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import nabla


def _t(*shape, dtype=np.float32):
    return nabla.from_numpy(np.arange(np.prod(shape), dtype=dtype).reshape(shape) - 2)


# ------------------------------------------------------------------ __array__

def test_asarray_shares_memory():
    t = _t(2, 3)
    a = np.asarray(t)
    assert type(a) is np.ndarray and np.shares_memory(a, t._data)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    assert np.shares_memory(np.asarray(t, copy=False), t._data)
    assert np.shares_memory(np.asarray(t, dtype=np.float32), t._data)  # same dtype: no copy


def test_asarray_copies_when_asked_or_needed():
    t = _t(2, 3)
    for a in (np.array(t), np.asarray(t, copy=True), np.asarray(t, dtype=np.float64)):
        assert not np.shares_memory(a, t._data)
        np.testing.assert_array_equal(a, t._data)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="copy"):
        np.asarray(t, dtype=np.float64, copy=False)


def test_asarray_of_a_view_and_a_parameter():
    t = _t(3, 4).T  # transposed: not C-contiguous
    assert np.shares_memory(np.asarray(t), t._data)
    np.testing.assert_array_equal(np.asarray(t), np.arange(12.0).reshape(3, 4).T - 2)
    p = nabla.nn.Parameter(_t(2))
    assert np.shares_memory(np.asarray(p), p._data)


# ----------------------------------------------------------------- from_numpy

def test_from_numpy_shares_memory_both_ways():
    a = np.zeros((2, 3), dtype=np.float32)
    t = nabla.from_numpy(a)
    a[1, 2] = 5.0  # array -> tensor
    assert t[1, 2].item() == 5.0
    t.add_(1.0)  # tensor -> array
    np.testing.assert_array_equal(a, [[1, 1, 1], [1, 1, 6]])
    assert t.numpy() is a or np.shares_memory(t.numpy(), a)


@pytest.mark.parametrize("dtype, name", [(np.float32, "float32"), (np.float64, "float64"),
                                         (np.int64, "int64"), (np.bool_, "bool")])
def test_from_numpy_keeps_dtype(dtype, name):
    t = nabla.from_numpy(np.ones(3, dtype=dtype))
    assert t.dtype == getattr(nabla, name)


def test_from_numpy_of_a_strided_view_shares():
    base = np.arange(20.0).reshape(4, 5)
    view = base[::2, 1::2]
    t = nabla.from_numpy(view)
    base[2, 3] = -1.0
    assert t[1, 1].item() == -1.0


def test_from_numpy_rejects_non_arrays():
    with pytest.raises(TypeError, match="numpy.ndarray"):
        nabla.from_numpy([1.0, 2.0])


# --------------------------------------------------------------------- ufuncs

@pytest.mark.parametrize("ufunc", [np.exp, np.sin, np.abs, np.sqrt, np.negative])
def test_unary_ufuncs_return_arrays(ufunc):
    t = _t(2, 3).abs()
    out = ufunc(t)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, ufunc(t._data))


def test_binary_ufuncs_and_functions_return_arrays():
    t = _t(2, 3)
    for out in (np.add(t, 1), np.maximum(t, 0), np.where(t._data > 0, t, 0), np.clip(t, 0, 1),
                np.concatenate([t, t]), np.dot(t, t.T)):
        assert type(out) is np.ndarray
    np.testing.assert_array_equal(np.add(t, t), 2 * t._data)
    buf = np.empty((2, 3), np.float32)
    assert np.multiply(t, 2, out=buf) is buf


# ------------------------------------------------------ ndarray (op) Tensor

@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.matmul, operator.lt, operator.eq, operator.pow])
def test_ndarray_with_tensor_gives_a_tensor(op):
    a = np.full((3, 3), 2.0, dtype=np.float32)
    t = _t(3, 3).abs() + 1
    got = op(a, t)
    assert isinstance(got, nabla.Tensor)  # Tensor.__r*__ wins: __array_priority__
    np.testing.assert_allclose(got.numpy(), op(a, t._data), rtol=1e-6)


def test_numpy_scalar_with_tensor_gives_a_tensor():
    t = _t(3)
    for got in (np.float32(2) + t, np.float64(2) * t, np.int64(1) - t):
        assert isinstance(got, nabla.Tensor)
    assert (np.float32(2) + t).dtype == nabla.float32


def test_gradient_flows_through_mixed_arithmetic():
    w = nabla.ones(3, requires_grad=True)
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    (a * w + a).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), a)


def test_augmented_assignment_on_an_array():
    # ndarray.__iadd__ defers to the tensor too, so Python falls back to a = a + t:
    # the name now holds a new Tensor and the array is left as it was.
    a = np.ones(3, dtype=np.float32)
    original = a
    a += _t(3)
    assert isinstance(a, nabla.Tensor) and a.tolist() == [-1.0, 0.0, 1.0]
    np.testing.assert_array_equal(original, [1, 1, 1])
    np.add(original, _t(3), out=original)  # the way to update the array in place
    np.testing.assert_array_equal(original, [-1, 0, 1])


# -------------------------------------------------------------------- DLPack

def test_dlpack_to_numpy_shares_memory():
    t = _t(2, 3)
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t._data)
    a[0, 1] = 9.0
    assert t[0, 1].item() == 9.0
    assert t.__dlpack_device__() == (1, 0)  # kDLCPU, device 0


def test_dlpack_from_numpy_shares_memory():
    a = np.arange(6.0).reshape(2, 3)
    t = nabla.from_dlpack(a)
    assert isinstance(t, nabla.Tensor) and t.dtype == nabla.float64
    a[1, 1] = -7.0
    assert t[1, 1].item() == -7.0
    assert nabla.from_dlpack(a.T).shape == (3, 2)


def test_dlpack_between_tensors():
    t = _t(4)
    u = nabla.from_dlpack(t)
    u._data[0] = 100.0
    assert t[0].item() == 100.0


def test_dlpack_to_torch_is_zero_copy(torch):
    t = _t(2, 3)
    x = torch.from_dlpack(t)
    assert x.dtype == torch.float32 and tuple(x.shape) == (2, 3)
    assert x.data_ptr() == t._data.ctypes.data
    x[1, 2] = 77.0  # torch writes, nabla sees
    assert t[1, 2].item() == 77.0
    t._data[0, 0] = -5.0  # nabla writes, torch sees
    assert x[0, 0].item() == -5.0
    xt = torch.from_dlpack(t.T)  # strides travel with it
    assert torch.equal(xt, x.T)


def test_dlpack_from_torch_is_zero_copy(torch):
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t = nabla.from_dlpack(x)
    assert t.dtype == nabla.float32 and t.shape == (3, 4)
    assert t._data.ctypes.data == x.data_ptr()
    t._data[2, 3] = -1.0
    assert x[2, 3].item() == -1.0
    strided = nabla.from_dlpack(x[:, ::2])
    np.testing.assert_array_equal(strided.numpy(), x[:, ::2].numpy())
    ints = nabla.from_dlpack(torch.tensor([1, 2, 3]))
    assert ints.dtype == nabla.int64
    # A torch tensor that requires grad must be detached first, as torch says.
    w = torch.ones(2, requires_grad=True)
    assert nabla.from_dlpack(w.detach()).tolist() == [1.0, 1.0]


def test_dlpack_round_trip_through_torch_keeps_gradients_apart(torch):
    w = nabla.ones(3, requires_grad=True)
    x = torch.from_dlpack(w)  # the values, not the graph
    assert not x.requires_grad
    (w * 2).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0]
