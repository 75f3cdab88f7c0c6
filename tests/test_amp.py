"""nabla.amp (autocast, GradScaler) and nabla.cuda.amp against torch's CPU behaviour."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")


def _pair(init, lr=0.1):
    """The same one-layer model and SGD in nabla and in torch."""
    w0 = np.asarray(init, dtype=np.float32)
    nw = nabla.nn.Parameter(nabla.tensor(w0.copy()))
    tw = torch.nn.Parameter(torch.tensor(w0.copy()))
    return nw, nabla.optim.SGD([nw], lr=lr), tw, torch.optim.SGD([tw], lr=lr)


def _scalers(**kw):
    return nabla.amp.GradScaler("cpu", **kw), torch.amp.GradScaler("cpu", **kw)


def _step(scaler, opt, w, x, lib):
    opt.zero_grad()
    loss = (w * lib.tensor(x)).sum()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


@pytest.mark.parametrize("interval", [1, 3])
def test_grad_scaler_follows_torch_through_clean_and_bad_steps(interval):
    nw, nopt, tw, topt = _pair([1.0, -2.0, 0.5])
    ns, ts = _scalers(init_scale=2.0**10, growth_interval=interval)
    inputs = [[1.0, 2.0, 3.0], [0.5, 0.25, 4.0], [np.inf, 1.0, 1.0], [1.0, np.nan, 2.0],
              [3.0, 1.0, 1.0], [1e30, 1.0, 1.0], [2.0, 2.0, 2.0], [0.1, 0.2, 0.3]]
    for x in inputs:
        x = np.asarray(x, dtype=np.float32)
        _step(ns, nopt, nw, x, nabla)
        _step(ts, topt, tw, x, torch)
        assert ns.get_scale() == ts.get_scale()
        assert ns.state_dict() == ts.state_dict()
        # The unscaled gradients agree to the bit; the SGD updates to rounding (torch's
        # add_ with alpha may fuse the multiply-add).
        np.testing.assert_array_equal(nw.grad.numpy(), tw.grad.numpy())
        np.testing.assert_allclose(nw.detach().numpy(), tw.detach().numpy(), rtol=1e-6)


def test_scale_grows_until_float32_overflow_is_refused():
    nw, nopt, tw, topt = _pair([1.0])
    ns, ts = _scalers(init_scale=2.0**126, growth_interval=1)
    for _ in range(3):
        _step(ns, nopt, nw, [1e-30], nabla)
        _step(ts, topt, tw, [1e-30], torch)
        assert ns.get_scale() == ts.get_scale()


def test_unscale_then_clip_then_step_like_torch():
    nw, nopt, tw, topt = _pair([3.0, 4.0])
    ns, ts = _scalers(init_scale=256.0)
    for lib, w, opt, s in ((nabla, nw, nopt, ns), (torch, tw, topt, ts)):
        opt.zero_grad()
        s.scale((w * w).sum()).backward()
        s.unscale_(opt)
        lib.nn.utils.clip_grad_norm_([w], 1.0)
        s.step(opt)
        s.update()
    np.testing.assert_allclose(nw.detach().numpy(), tw.detach().numpy(), rtol=1e-6)
    assert ns.get_scale() == ts.get_scale()


def test_scale_of_a_structure_and_the_scaled_value():
    ns, ts = _scalers(init_scale=8.0)
    a = ns.scale([nabla.tensor(2.0), (nabla.tensor([1.0, 3.0]),)])
    b = ts.scale([torch.tensor(2.0), (torch.tensor([1.0, 3.0]),)])
    assert isinstance(a, list) and isinstance(a[1], tuple)
    assert a[0].item() == b[0].item() == 16.0
    assert a[1][0].numpy().tolist() == b[1][0].tolist()
    assert a[0].shape == tuple(b[0].shape)


def test_call_order_errors_match_torch():
    for lib, scaler in ((nabla, nabla.amp.GradScaler("cpu")), (torch, torch.amp.GradScaler("cpu"))):
        w = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([w], lr=0.1)
        scaler.scale(w.sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="already been called"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="after step"):
            scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(opt)
        with pytest.raises(RuntimeError, match="Closure"):
            scaler.step(opt, closure=lambda: 0)
        scaler.update()
        with pytest.raises(AssertionError, match="No inf checks"):
            scaler.update()


def test_bad_factors_rejected_like_torch():
    for kw in ({"growth_factor": 1.0}, {"backoff_factor": 1.0}):
        with pytest.raises(AssertionError, match="factor"):  # nabla: a ValueError
            torch.amp.GradScaler("cpu", **kw)
        with pytest.raises(ValueError, match="factor"):
            nabla.amp.GradScaler("cpu", **kw)


def test_state_dict_round_trip_and_disabled_source():
    ns, ts = _scalers(init_scale=32.0, growth_interval=7)
    assert ns.state_dict() == ts.state_dict()
    other = nabla.amp.GradScaler("cpu")
    other.load_state_dict(ns.state_dict())
    assert other.state_dict() == ns.state_dict() and other.get_growth_interval() == 7
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})
    with pytest.raises(RuntimeError, match="empty"):
        torch.amp.GradScaler("cpu").load_state_dict({})


def test_update_with_new_scale():
    ns, ts = _scalers()
    ns.scale(nabla.tensor(1.0))
    ts.scale(torch.tensor(1.0))  # torch's scale is made lazily, by the first scale()
    ns.update(4.0)
    ts.update(4.0)
    assert ns.get_scale() == ts.get_scale() == 4.0
    ns.update(nabla.tensor(2.0))
    assert ns.get_scale() == 2.0


@pytest.mark.parametrize("make", [
    lambda: nabla.amp.GradScaler("cpu", enabled=False),
    lambda: nabla.amp.GradScaler(),  # "cuda" by default: no GPU, so disabled with a warning
    lambda: nabla.cuda.amp.GradScaler(),
])
def test_a_disabled_scaler_passes_through_like_torch(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = make()
        tscaler = torch.amp.GradScaler("cpu", enabled=False)
    nw, nopt, tw, topt = _pair([1.0, 2.0])
    loss = (nw * 3).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(nopt)  # nothing happens
    assert nw.grad.numpy().tolist() == [3.0, 3.0]
    scaler.step(nopt)
    scaler.update()
    assert not scaler.is_enabled() and scaler.get_scale() == tscaler.get_scale() == 1.0
    assert scaler.state_dict() == tscaler.state_dict() == {}
    np.testing.assert_allclose(nw.detach().numpy(), [0.7, 1.7], rtol=1e-6)
    scaler.load_state_dict({})  # a disabled scaler ignores it, as torch's does


def test_cuda_scaler_warns_as_torch_does_without_a_gpu():
    with pytest.warns(UserWarning, match="CPU only. Disabling"):
        nabla.cuda.amp.GradScaler()
    with pytest.warns(UserWarning, match="Disabling"):
        nabla.amp.GradScaler("cuda")


def test_fp16_gradients_refused_on_unscale():
    w = nabla.nn.Parameter(nabla.ones(2, dtype=nabla.float16))
    opt = nabla.optim.SGD([w], lr=0.1)
    w.grad = nabla.ones(2, dtype=nabla.float16)
    with pytest.raises(ValueError, match="FP16"):
        nabla.amp.GradScaler("cpu").unscale_(opt)


# ------------------------------------------------------------------ autocast

def test_autocast_is_a_no_op_for_float32_and_records_its_state():
    x = nabla.randn(3, 4)
    lin = nabla.nn.Linear(4, 2)
    ref = lin(x).detach().numpy()
    assert not nabla.is_autocast_enabled("cpu")
    with nabla.autocast("cpu", dtype=nabla.bfloat16):
        out = lin(x)
        assert nabla.is_autocast_enabled("cpu")
        assert nabla.get_autocast_dtype("cpu") == nabla.bfloat16
        with nabla.amp.autocast("cpu", enabled=False):
            assert not nabla.is_autocast_enabled("cpu")
        assert nabla.is_autocast_enabled("cpu")
    assert not nabla.is_autocast_enabled("cpu")
    assert out.dtype == nabla.float32
    np.testing.assert_array_equal(out.detach().numpy(), ref)
    assert torch.get_autocast_dtype("cpu") == torch.bfloat16  # the default we mirror
    assert nabla.get_autocast_dtype("cpu") == nabla.bfloat16


def test_autocast_as_a_decorator_and_on_cuda():
    @nabla.amp.autocast("cpu")
    def f():
        return nabla.is_autocast_enabled("cpu")

    assert f() and not nabla.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="Disabling autocast"):
        with nabla.autocast("cuda"):
            assert not nabla.is_autocast_enabled()
    with pytest.warns(UserWarning):
        with nabla.cuda.amp.autocast():
            pass
    with pytest.raises(ValueError, match="device_type"):
        nabla.autocast(0)
    with pytest.raises(RuntimeError, match="device_type"):
        nabla.autocast("gpu")


def test_autocast_state_restored_after_an_exception():
    with pytest.raises(KeyError):
        with nabla.autocast("cpu"):
            raise KeyError("x")
    assert not nabla.is_autocast_enabled("cpu")
