"""The fast paths behind the small GPT step (benchmark case 9) give the straightforward
results: each test compares a fast path with the plain NumPy formula or with PyTorch."""

import warnings

import numpy as np
import pytest

import nabla
from nabla.ops import linalg


# ------------------------------------------- Linear on inputs with leading batch axes
def test_products_of_batched_inputs_fold_the_leading_axes():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 5, 8)).astype(np.float32)
    b = rng.standard_normal((8, 6)).astype(np.float32)
    out = linalg._product(a, b)
    assert out.shape == (3, 5, 6)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    # the fold: one 2-D product, reshaped
    np.testing.assert_array_equal(out, a.reshape(15, 8).dot(b).reshape(3, 5, 6))
    # a short, wide fold (rows 2, columns 40) comes back through the swapped product
    a2 = rng.standard_normal((2, 1, 8)).astype(np.float32)
    b2 = rng.standard_normal((8, 40)).astype(np.float32)
    np.testing.assert_allclose(linalg._product(a2, b2), a2 @ b2, rtol=1e-5, atol=1e-5)
    # a non-contiguous input keeps NumPy's matmul
    at = np.swapaxes(a, 0, 1)
    np.testing.assert_array_equal(linalg._product(at, b), at @ b)


def test_linear_on_3d_input_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((4, 6, 16)).astype(np.float32)
    w0 = rng.standard_normal((24, 16)).astype(np.float32)
    b0 = rng.standard_normal(24).astype(np.float32)
    g0 = rng.standard_normal((4, 6, 24)).astype(np.float32)
    xs, ws, bs = (nabla.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    out = nabla.nn.functional.linear(xs, ws, bs)
    out.backward(nabla.tensor(g0))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    ref = torch.nn.functional.linear(xt, wt, bt)
    ref.backward(torch.tensor(g0))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    for n, t in ((xs, xt), (ws, wt), (bs, bt)):
        np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_fused_linear_activation_on_3d_input_is_linear_then_activation_bit_for_bit():
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((4, 6, 16)).astype(np.float32)
    w0 = rng.standard_normal((24, 16)).astype(np.float32)
    b0 = rng.standard_normal(24).astype(np.float32)
    x, w, b = (nabla.tensor(a) for a in (x0, w0, b0))
    w.requires_grad_(True)
    fused = linalg.LinearTanh.apply(x, w, b)
    plain = nabla.tanh(linalg.Linear.apply(x, w, b))
    np.testing.assert_array_equal(fused.detach().numpy(), plain.detach().numpy())


# ------------------------------------------------------------ layer norm as rows
def _layer_norm_case(x0, shape, affine, bias, lib, g0):
    x = lib.tensor(x0, requires_grad=True)
    w = b = None
    if affine:
        rng = np.random.default_rng(3)
        w = lib.tensor(rng.standard_normal(shape).astype(x0.dtype), requires_grad=True)
        if bias:
            b = lib.tensor(rng.standard_normal(shape).astype(x0.dtype), requires_grad=True)
    out = lib.nn.functional.layer_norm(x, shape, w, b, 1e-5)
    out.backward(lib.tensor(g0))
    grads = [t.grad.numpy() for t in (x, w, b) if t is not None]
    return [out.detach().numpy()] + grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,affine,bias", [((8,), True, True), ((3, 8), True, True),
                                               ((8,), False, False), ((8,), True, False)])
def test_layer_norm_rows_match_torch(dtype, shape, affine, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x0 = (rng.standard_normal((2, 5) + shape) * 3 + 1).astype(dtype)
    g0 = rng.standard_normal(x0.shape).astype(dtype)
    ours = _layer_norm_case(x0, shape, affine, bias, nabla, g0)
    ref = _layer_norm_case(x0, shape, affine, bias, torch, g0)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_layer_norm_rows_equal_the_general_path():
    # A transposed (non-contiguous) input takes the general path: the two must agree.
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((6, 4, 16)).astype(np.float32)
    w0, b0 = rng.standard_normal((2, 16)).astype(np.float32)
    g0 = rng.standard_normal((4, 6, 16)).astype(np.float32)
    results = []
    for contiguous in (True, False):
        base = nabla.tensor(np.ascontiguousarray(x0.transpose(1, 0, 2)) if contiguous else x0,
                            requires_grad=True)
        x = base if contiguous else base.transpose(0, 1)
        assert x._data.flags.c_contiguous == contiguous
        w, b = nabla.tensor(w0, requires_grad=True), nabla.tensor(b0, requires_grad=True)
        out = nabla.nn.functional.layer_norm(x, (16,), w, b)
        out.backward(nabla.tensor(g0))
        gx = base.grad.numpy() if contiguous else base.grad.numpy().transpose(1, 0, 2)
        results.append([out.detach().numpy(), gx, w.grad.numpy(), b.grad.numpy()])
    for fast, plain in zip(*results):
        np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-5)


# ------------------------------------------------- softmax along a last, short axis
def test_row_max_equals_numpys_max_including_nan_and_inf():
    from nabla.ops.activation import row_max

    rng = np.random.default_rng(6)
    for cols in (10, 32, 48, 64):
        x = rng.standard_normal((40, cols)).astype(np.float32)
        x[3, :] = -np.inf
        x[5, 2] = np.nan
        x[7, 1] = np.inf
        np.testing.assert_array_equal(row_max(x), x.max(axis=1, keepdims=True))


def _softmax_case(lib, name, x0, g0, dim, transpose):
    x = lib.tensor(x0, requires_grad=True)
    y = x.transpose(0, 1) if transpose else x
    out = getattr(lib.nn.functional, name)(y, dim=dim)
    out.backward(lib.tensor(g0))
    return out.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cols", [8, 32, 100])
def test_softmax_along_last_axis_matches_torch_with_masked_rows(name, dtype, cols):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x0 = (rng.standard_normal((3, 16, cols)) * 4).astype(dtype)
    x0[0, :, cols // 2:] = -np.inf  # a causal-style mask: half of each row
    g0 = rng.standard_normal(x0.shape).astype(dtype)
    ours = _softmax_case(nabla, name, x0, g0, -1, False)
    ref = _softmax_case(torch, name, x0, g0, -1, False)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_fast_path_equals_the_general_path(name):
    # A transposed input is not C-contiguous and takes NumPy's reductions.
    rng = np.random.default_rng(8)
    x0 = rng.standard_normal((32, 40, 24)).astype(np.float32)
    g0 = rng.standard_normal((40, 32, 24)).astype(np.float32)
    fast = _softmax_case(nabla, name, np.ascontiguousarray(x0.transpose(1, 0, 2)), g0, -1,
                         False)
    plain = _softmax_case(nabla, name, x0, g0, -1, True)
    np.testing.assert_allclose(fast[0], plain[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast[1], plain[1].transpose(1, 0, 2), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_softmax_of_a_fully_masked_row_is_nan_as_in_torch():
    torch = pytest.importorskip("torch")
    x0 = np.zeros((40, 4), np.float32)
    x0[1] = -np.inf
    ours = nabla.nn.functional.softmax(nabla.tensor(x0), dim=-1).numpy()
    ref = torch.softmax(torch.tensor(x0), dim=-1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[0], ref[0])


# --------------------------------------------------------- masked_fill by a number
@pytest.mark.parametrize("mask_shape", [(1, 1, 6, 6), (6, 6), (2, 3, 6, 6), (2, 1, 1, 6)])
@pytest.mark.parametrize("value", [float("-inf"), 0.5, 3])
def test_masked_fill_with_a_number_matches_torch(mask_shape, value):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x0 = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    m0 = rng.random(mask_shape) < 0.4
    g0 = rng.standard_normal(x0.shape).astype(np.float32)
    results = []
    for lib in (nabla, torch):
        x = lib.tensor(x0, requires_grad=True)
        out = (x * 2).masked_fill(lib.tensor(m0), value)
        out.backward(lib.tensor(g0))
        results.append((out.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_masked_fill_fast_path_is_where():
    from nabla.tensor_math import where_tensors

    rng = np.random.default_rng(10)
    x0 = rng.standard_normal((4, 5)).astype(np.float32)
    m = nabla.tensor(rng.random(5) < 0.5)
    g0 = rng.standard_normal((4, 5)).astype(np.float32)
    x1, x2 = nabla.tensor(x0, requires_grad=True), nabla.tensor(x0, requires_grad=True)
    fast = x1.masked_fill(m, -1.5)
    assert fast.grad_fn.name() == "MaskedFillBackward"
    plain = where_tensors(m, nabla.tensor(np.float32(-1.5)), x2)
    fast.backward(nabla.tensor(g0))
    plain.backward(nabla.tensor(g0))
    np.testing.assert_array_equal(fast.detach().numpy(), plain.detach().numpy())
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())


def test_masked_fill_other_cases_keep_the_general_path():
    torch = pytest.importorskip("torch")
    # a mask larger than the input broadcasts the result; a tensor value gets a gradient;
    # an integer input
    m0 = np.array([[True, False, True], [False, False, True]])
    x = nabla.zeros(3, requires_grad=True)
    assert tuple(x.masked_fill(nabla.tensor(m0), 1.0).shape) == tuple(
        torch.zeros(3).masked_fill(torch.tensor(m0), 1.0).shape)
    v = nabla.tensor(2.0, requires_grad=True)
    x.masked_fill(nabla.tensor(m0[0]), v).sum().backward()
    assert v.grad.item() == 2.0 and x.grad.tolist() == [0.0, 1.0, 0.0]
    ints = nabla.tensor([1, 2, 3]).masked_fill(nabla.tensor(m0[0]), 7)
    assert ints.tolist() == [7, 2, 7] and ints.dtype == nabla.int64


# ------------------------------------------------------------ split as one node
def _split_program(lib, x0, g0, use_all, in_place, narrow=False):
    x = lib.tensor(x0, requires_grad=True)
    h = x * 1.5
    if narrow:
        q, k, v = (h.narrow(2, i, 4) for i in (0, 4, 8))
    else:
        q, k, v = h.split(4, dim=2)
    if in_place:
        k.mul_(3.0)  # torch refuses this on split's parts; nabla writes it into h
    parts = (q, k, v) if use_all else (q, v)
    out = sum((p * lib.tensor(g)).sum() for p, g in zip(parts, g0))
    out.backward()
    return h.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("use_all", [True, False])
def test_split_while_recording_matches_torch(use_all):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x0 = rng.standard_normal((2, 3, 12)).astype(np.float32)
    g0 = [rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3)]
    if not use_all:
        g0 = [g0[0], g0[2]]
    ours = _split_program(nabla, x0, g0, use_all, False)
    ref = _split_program(torch, x0, g0, use_all, False)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_split_parts_changed_in_place_behave_as_narrows():
    rng = np.random.default_rng(13)
    x0 = rng.standard_normal((2, 3, 12)).astype(np.float32)
    g0 = [rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3)]
    split = _split_program(nabla, x0, g0, True, True)
    narrow = _split_program(nabla, x0, g0, True, True, narrow=True)
    for a, b in zip(split, narrow):
        np.testing.assert_array_equal(a, b)


def test_split_node_gives_narrows_gradient_and_views():
    rng = np.random.default_rng(12)
    x0 = rng.standard_normal((5, 9)).astype(np.float32)
    x = nabla.tensor(x0, requires_grad=True)
    parts = (x * 1.0).split([2, 3, 4], dim=1)
    assert {p.grad_fn.name() for p in parts} == {"_SplitBackward"}
    assert all(p._vc is parts[0]._vc for p in parts)  # views of one tensor
    weights = [rng.standard_normal(p.shape).astype(np.float32) for p in parts]
    sum((p * nabla.tensor(w)).sum() for p, w in zip(parts, weights)).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.concatenate(weights, axis=1), rtol=0,
                               atol=0)
    with nabla.no_grad():  # nothing recorded: narrow's plain views
        assert all(p.grad_fn is None for p in x.split(3, dim=1))


# ------------------------------------------------------- Adam over flat vectors
class _PerParamAdamW(nabla.optim.AdamW):
    def _step_flat(self, group):  # the per-parameter path only
        return False


class _PerParamAdam(nabla.optim.Adam):
    def _step_flat(self, group):
        return False


def _adam_run(cls, dtype, steps, skip=None, **kw):
    rng = np.random.default_rng(14)
    shapes = [(6, 4), (4,), (3, 2, 2), ()]
    params = [nabla.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in shapes]
    opt = cls(params, lr=0.05, **kw)
    for i in range(steps):
        for j, p in enumerate(params):
            p.grad = None if (skip and skip(i, j)) else nabla.tensor(
                rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    state = [[opt.state[p][k].numpy().copy() for k in ("step", "exp_avg", "exp_avg_sq")]
             for p in params if p in opt.state]
    return [p.detach().numpy().copy() for p in params], state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("flat,plain,kw", [
    (nabla.optim.AdamW, _PerParamAdamW, {"weight_decay": 0.1, "betas": (0.9, 0.95)}),
    (nabla.optim.Adam, _PerParamAdam, {"weight_decay": 0.01}),
    (nabla.optim.Adam, _PerParamAdam, {}),
])
def test_flat_adam_equals_the_per_parameter_path_bit_for_bit(dtype, flat, plain, kw):
    a = _adam_run(flat, dtype, 4, **kw)
    b = _adam_run(plain, dtype, 4, **kw)
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    for sx, sy in zip(a[1], b[1]):
        for x, y in zip(sx, sy):
            np.testing.assert_array_equal(x, y)


def test_flat_adam_with_a_skipped_gradient_equals_the_per_parameter_path():
    skip = lambda i, j: i == 1 and j == 2  # noqa: E731 - one parameter misses step 1
    a = _adam_run(nabla.optim.AdamW, np.float32, 4, skip=skip)
    b = _adam_run(_PerParamAdamW, np.float32, 4, skip=skip)
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)


def test_flat_adamw_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    inits = [rng.standard_normal(s).astype(np.float32) for s in [(5, 3), (3,), (2, 2)]]
    grads = [[rng.standard_normal(w.shape).astype(np.float32) for w in inits]
             for _ in range(3)]
    results = []
    for lib in (nabla, torch):
        params = [lib.tensor(w.copy(), requires_grad=True) for w in inits]
        opt = lib.optim.AdamW(params, lr=0.01, betas=(0.9, 0.95), weight_decay=0.1)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = lib.tensor(g)
            opt.step()
        results.append([p.detach().numpy() for p in params])
    for x, y in zip(*results):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_flat_adam_resumes_from_a_state_dict():
    rng = np.random.default_rng(16)
    inits = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3,)]]
    grads = [[rng.standard_normal(w.shape).astype(np.float32) for w in inits]
             for _ in range(4)]

    def run(resume_at):
        params = [nabla.tensor(w.copy(), requires_grad=True) for w in inits]
        opt = nabla.optim.AdamW(params, lr=0.01)
        for i, gs in enumerate(grads):
            if i == resume_at:
                saved = opt.state_dict()
                opt = nabla.optim.AdamW(params, lr=0.01)
                opt.load_state_dict(saved)
            for p, g in zip(params, gs):
                p.grad = nabla.tensor(g)
            opt.step()
        return [p.detach().numpy() for p in params], opt

    straight, opt = run(None)
    resumed, _ = run(2)
    for x, y in zip(straight, resumed):
        np.testing.assert_array_equal(x, y)
    sd = opt.state_dict()["state"]
    assert list(sd[0]) == ["step", "exp_avg", "exp_avg_sq"] and sd[0]["step"].item() == 4.0


# ---------------------------------- gradients summed in place where only the engine holds them
def _shared_gradient_program(lib, x0, m0, g0):
    x = lib.tensor(x0, requires_grad=True)
    h = x * 2.0
    h.retain_grad()  # h's gradient is a sum of four: it must come out whole
    s = lib.nn.functional.softmax(h, dim=-1)
    s.retain_grad()  # s's gradient is the array softmax's backward gets
    m = h.masked_fill(lib.tensor(m0), 0.0)
    ln = lib.nn.functional.layer_norm(h, (h.shape[-1],))
    seen = []
    ln.register_hook(lambda g: seen.append(g.clone()))
    total = s + m + ln + h  # Add's backward hands the same gradient to every input
    total.backward(lib.tensor(g0))
    return [x.grad.numpy(), h.grad.numpy(), s.grad.numpy(), seen[0].numpy()]


def test_backwards_that_reuse_their_gradient_leave_shared_ones_intact():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(17)
    x0 = rng.standard_normal((40, 8)).astype(np.float32)
    m0 = rng.random((40, 8)) < 0.3
    g0 = rng.standard_normal((40, 8)).astype(np.float32)
    ours = _shared_gradient_program(nabla, x0, m0, g0)
    ref = _shared_gradient_program(torch, x0, m0, g0)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_reused_gradients_match_torch_in_a_plain_chain():
    # No sharing: each backward gets its gradient alone and may write into it.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(18)
    x0 = rng.standard_normal((2, 3, 40, 8)).astype(np.float32)
    m0 = np.triu(np.ones((40, 8), bool), 1)
    w0 = rng.standard_normal((8, 8)).astype(np.float32)
    results = []
    for lib in (nabla, torch):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        h = lib.nn.functional.layer_norm(x, (8,)) @ w
        h = h.masked_fill(lib.tensor(m0), float("-inf"))
        out = lib.nn.functional.softmax(h, dim=-1) @ w
        (out * out).sum().backward()
        results.append([x.grad.numpy(), w.grad.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)



# ------------------------------------------- big log-softmax rows, by blocks of rows
@pytest.mark.parametrize("shape,dtype", [((40, 30000), np.float32), ((3, 7, 50000), np.float32),
                                         ((1100, 1000), np.float64), ((2, 600000), np.float32)])
def test_big_log_softmax_by_row_blocks_matches_torch(shape, dtype):
    """Over a million elements, log_softmax and its gradient go by blocks of rows on
    the threads: PyTorch's values (computed in float64: its float32 forward is the less
    accurate of the two here) and those of the whole-array passes, with -inf entries, a
    row all -inf (NaN, as PyTorch, and no warning) and a non-contiguous gradient."""
    torch = pytest.importorskip("torch")
    from nabla.ops import activation

    rng = np.random.default_rng(23)
    x0 = (rng.standard_normal(shape) * 4).astype(dtype)
    x0[0, 5] = -np.inf
    x0[1] = -np.inf  # a row (or rows) with no finite entry
    g0 = rng.standard_normal(shape[:-1] + (shape[-1] * 2,)).astype(dtype)[..., ::2]
    assert activation._big_rows(x0, x0.ndim - 1)  # the blocked path runs
    x = nabla.tensor(x0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = nabla.nn.functional.log_softmax(x, dim=-1)
        y.backward(nabla.from_numpy(g0))
    xt = torch.tensor(x0.astype(np.float64), requires_grad=True)
    yt = torch.log_softmax(xt, -1)
    yt.backward(torch.tensor(np.ascontiguousarray(g0).astype(np.float64)))
    # Relative to the largest value: a row's sums run over 30000-600000 float32 values, in
    # as many partial sums as the vector has lanes (8 with AVX2: log-sum-exp off by 6e-5
    # in a 600000-long row, about sqrt(75000) roundings; 16 with AVX-512).
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for a, b in ((y.detach().numpy(), yt.detach().numpy()), (x.grad.numpy(), xt.grad.numpy())):
        assert a.dtype == dtype
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        scale = np.abs(b[np.isfinite(b)]).max()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)
    # The whole-array passes (what smaller arrays take) give the same values.
    blocked = activation._big_rows
    try:
        activation._big_rows = lambda a, axis: False
        with np.errstate(divide="ignore", invalid="ignore"):
            plain = activation.log_softmax_array(x0, x0.ndim - 1)
    finally:
        activation._big_rows = blocked
    np.testing.assert_array_equal(np.isnan(y.detach().numpy()), np.isnan(plain))
    scale = np.abs(plain[np.isfinite(plain)]).max()
    np.testing.assert_allclose(y.detach().numpy(), plain, rtol=tol, atol=tol * scale)



@pytest.mark.parametrize("case", ["finite", "inf logit", "transposed", "float64", "sum"])
def test_big_cross_entropy_by_row_blocks_matches_torch(case):
    """Cross-entropy over a big vocabulary (>= 2^20 logits) goes by blocks of rows, its
    gradient in parts on the threads: PyTorch's loss and gradient (in float64); an inf
    logit (the general path takes over), a transposed input (not C-contiguous: the
    whole-array passes) and a sum reduction give them too."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(24)
    dtype = np.float64 if case == "float64" else np.float32
    x0 = (rng.standard_normal((40, 30000)) * 4).astype(dtype)
    if case == "inf logit":
        x0[3, 7] = np.inf
    t0 = rng.integers(0, 30000, 40)
    reduction = "sum" if case == "sum" else "mean"
    x = nabla.tensor(x0.T.copy().T if case == "transposed" else x0, requires_grad=True)
    if case == "transposed":
        x = nabla.from_numpy(np.asfortranarray(x0)).requires_grad_()
        assert not x._data.flags.c_contiguous
    loss = nabla.nn.functional.cross_entropy(x, nabla.tensor(t0), reduction=reduction)
    loss.backward()
    xt = torch.tensor(x0.astype(np.float64), requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t0), reduction=reduction)
    lt.backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=tol)
    got, want = x.grad.numpy(), xt.grad.numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    scale = np.abs(want[np.isfinite(want)]).max()
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("rows", [1, 40000, 600000])  # whole-array, compiled, by blocks
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_rows_with_inf_or_nan_are_pytorchs(rows, fn):
    """A row with +inf is NaN throughout, as in PyTorch (shifting it by 0 had given
    softmax([1, inf]) = [0, nan]); a row of -inf is NaN; a -inf entry gives 0 / -inf."""
    torch = pytest.importorskip("torch")
    inf, nan = np.inf, np.nan
    for row in ([1.0, inf], [-inf, -inf], [1.0, -inf], [inf, inf], [1.0, nan], [3.0, 1.0]):
        x0 = np.tile(np.array(row, np.float32), (rows, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's, on the small path
            got = getattr(nabla.nn.functional, fn)(nabla.from_numpy(x0), dim=-1).numpy()
        want = getattr(torch.nn.functional, fn)(torch.from_numpy(x0), dim=-1).numpy()
        np.testing.assert_array_equal(np.isnan(got[[0, -1]]), np.isnan(want[[0, -1]]),
                                      err_msg=str(row))
        np.testing.assert_allclose(got[[0, -1]], want[[0, -1]], rtol=1e-6, err_msg=str(row))


def test_cross_entropy_with_an_inf_logit_is_nan_as_pytorchs():
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(25).standard_normal((4, 5)).astype(np.float32)
    x0[1, 2] = np.inf
    t0 = np.array([0, 1, 2, 3])
    losses = []
    for lib in (nabla, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            losses.append(lib.nn.functional.cross_entropy(lib.tensor(x0), lib.tensor(t0)).item())
    assert np.isnan(losses[0]) and np.isnan(losses[1])

# ------------------------------------------------- embedding gradient by sorted runs
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("negative", [False, True])
# The one-hot product (m >= n, n * m <= 65536), add.at (few rows), sorted runs (the rest)
@pytest.mark.parametrize("m,n", [(512, 65), (96, 27), (40, 3), (10, 5), (33, 1000),
                                 (300, 1000), (2048, 65)])
def test_add_rows_is_add_at(dtype, negative, m, n):
    from nabla.ops.index import add_rows

    rng = np.random.default_rng(19)
    # Negative indices name the rows from the end: -1 and n - 1 sum into one row.
    index = rng.integers(-n if negative else 0, n, m)
    values = rng.standard_normal((m, 7)).astype(dtype)
    expected = np.zeros((n, 7), dtype)
    np.add.at(expected, index, values)
    got = add_rows(n, index, values)
    assert got.dtype == dtype and got.shape == (n, 7)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)



@pytest.mark.parametrize("m,n", [(96, 27), (300, 1000), (20, 100)])
def test_add_rows_keeps_an_inf_or_nan_in_its_own_row(m, n):
    from nabla.ops.index import add_rows

    rng = np.random.default_rng(21)
    index = rng.integers(0, n, m)
    values = rng.standard_normal((m, 4)).astype(np.float32)
    values[3, 1], values[7, 2] = np.inf, np.nan
    expected = np.zeros((n, 4), np.float32)
    np.add.at(expected, index, values)
    got = add_rows(n, index, values)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("table,index_shape", [((27, 10), (32, 3)), ((65,), (16, 32)),
                                               ((5, 3, 2), (40,)), ((1000, 8), (6,)),
                                               ((4, 3), (0,))])
def test_integer_array_index_gradient_matches_torch(table, index_shape):
    """``C[X]`` (makemore's embedding by indexing): its gradient, rows summed where an
    index repeats, negative indices included, as PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(22)
    c0 = rng.standard_normal(table).astype(np.float32)
    ix = rng.integers(-table[0], table[0], index_shape)
    g0 = rng.standard_normal(index_shape + table[1:]).astype(np.float32)
    grads = []
    for lib in (nabla, torch):
        c = lib.tensor(c0, requires_grad=True)
        c[lib.tensor(ix)].backward(lib.tensor(g0))
        grads.append(c.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5)

def test_embedding_gradient_over_many_tokens_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(20)
    w0 = rng.standard_normal((65, 16)).astype(np.float32)
    idx = rng.integers(0, 65, (16, 32))
    g0 = rng.standard_normal((16, 32, 16)).astype(np.float32)
    results = []
    for lib in (nabla, torch):
        w = lib.tensor(w0, requires_grad=True)
        out = lib.nn.functional.embedding(lib.tensor(idx), w, padding_idx=3)
        out.backward(lib.tensor(g0))
        results.append(w.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-5)
    assert not results[0][3].any()
