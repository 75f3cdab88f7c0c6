"""``Tensor.data`` with PyTorch's meaning, and the small Tensor API items of issue 20
(``__format__``, ``nelement``, ``new_*``, ``alpha=``/``value=``, ``is_cuda``)."""

from __future__ import annotations

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")

P = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
X = [[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]]


def test_data_is_a_detached_tensor_sharing_storage():
    for lib in (nabla, torch):
        p = lib.tensor(P, requires_grad=True)
        d = p.data
        assert isinstance(d, lib.Tensor) and not d.requires_grad and d.is_leaf
        d[0, 0] = 7.0  # shares the storage ...
        assert p[0, 0].item() == 7.0
        d.add_(1)  # ... but not the version counter (autograd does not see it)
        assert (p._version, d._version) == (0, 2)
    assert np.shares_memory(np.asarray(p.detach()), p.detach().numpy())


def test_course_update_through_data_trains_like_torch():
    results = []
    for lib in (nabla, torch):
        w = lib.tensor(P, dtype=lib.float64, requires_grad=True)
        x = lib.tensor(X, dtype=lib.float64)
        for _ in range(3):
            loss = (x @ w).tanh().pow(2).sum()
            w.grad = None
            loss.backward()
            w.data += -0.1 * w.grad  # the course idiom: updates w in place
        results.append((w.detach().numpy().copy(), loss.item(), w.data.std().item(),
                        w.data.std(1).numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_data_assignment_as_torch():
    for lib in (nabla, torch):
        p = lib.tensor(P, requires_grad=True)
        p.data = lib.zeros(5)  # PyTorch allows another shape
        assert p.shape == (5,) and p.requires_grad and p._version == 0
        p.data = lib.ones(2, dtype=lib.float64)
        assert p.dtype == lib.float64 and p.tolist() == [1.0, 1.0]
        with pytest.raises(RuntimeError, match="floating point"):
            p.data = lib.ones(2, dtype=lib.int64)
        with pytest.raises(TypeError, match="list"):
            p.data = [1.0, 2.0]
        assert p.tolist() == [1.0, 1.0]
    src = nabla.arange(3.0)
    q = nabla.zeros(3)
    q.data = src
    src.add_(1)
    assert q.tolist() == [1.0, 2.0, 3.0]  # the storage itself, as in PyTorch


def test_library_code_never_reads_data_as_an_array():
    # a training step and the optimizers work through ._data (data is a Tensor now)
    m = nabla.nn.Linear(3, 2)
    opt = nabla.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        m(nabla.ones(4, 3)).pow(2).mean().backward()
        opt.step()
    assert all(isinstance(p.data, nabla.Tensor) for p in m.parameters())


def test_format_as_torch():
    for lib in (nabla, torch):
        loss = lib.tensor(0.123456)
        assert f"{loss:.4f}" == "0.1235" and f"{loss:>8.2f}" == "    0.12"
        assert f"{lib.tensor(3)}" == "3"  # a 0-d tensor formats as its value
        assert f"{lib.tensor([1.5])}" == str(lib.tensor([1.5]))
        with pytest.raises(TypeError, match="format"):
            f"{lib.tensor([1.5]):.2f}"


@pytest.mark.parametrize("make", [
    lambda t, lib: t.new_zeros(2, 3),
    lambda t, lib: t.new_zeros((2,), dtype=lib.int32),
    lambda t, lib: t.new_ones((2, 1)),
    lambda t, lib: t.new_full((2,), 3),
    lambda t, lib: t.new_full([1, 2], 2.5, dtype=lib.float32),
    lambda t, lib: t.new_empty(4),
    lambda t, lib: t.new_tensor([1, 2]),
    lambda t, lib: t.new_tensor([[1.5]], dtype=lib.float32),
    lambda t, lib: t.new_ones(2, requires_grad=True),
])
def test_new_tensors_follow_self_dtype(make):
    ours = make(nabla.zeros(1, dtype=nabla.float64), nabla)
    theirs = make(torch.zeros(1, dtype=torch.float64), torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert ours.requires_grad == theirs.requires_grad
    if "empty" not in str(ours.shape):
        assert ours.numel() == ours.nelement() == theirs.nelement()


def test_small_attributes():
    t = nabla.zeros(2, 3)
    assert t.is_cuda is False and t.device.type == "cpu" and t.nelement() == 6
    a, b = nabla.tensor([1.0, 2.0]), nabla.tensor([3.0, 5.0])
    assert a.add(b, alpha=2).tolist() == [7.0, 12.0]
    assert nabla.add(a, b, alpha=-1).tolist() == [-2.0, -3.0]
    assert a.sub(b, alpha=0.5).tolist() == [-0.5, -0.5]
    assert a.addcmul(a, b, value=2).tolist() == [7.0, 22.0]
    assert a.addcdiv(a, b, value=3).tolist() == pytest.approx([2.0, 3.2])
    c = a.clone()
    c.add_(b, alpha=10).sub_(b, alpha=10)
    assert c.tolist() == [1.0, 2.0]
