"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .optimizer import (
    _STEP_DTYPE,
    Optimizer,
    _adam_moments,
    _check_adam_group,
    _options,
    _state_buf,
    _update_moments,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, computed exactly as ``torch.optim.Adam`` does.

    With ``g`` the gradient (negated when ``maximize``; plus ``weight_decay * p``
    unless the decay is decoupled, as in AdamW) and ``t`` the step number::

        m = lerp(m, g, 1 - beta1)              v = beta2 * v + (1 - beta2) * g * g
        step_size = lr / (1 - beta1 ** t)
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps     (v -> running max if amsgrad)
        p = p - step_size * m / denom

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); w          # the first Adam step moves every weight by about lr
    tensor([ 0.9, -1.9], requires_grad=True)
    >>> sorted(opt.state[w])
    ['exp_avg', 'exp_avg_sq', 'step']
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_adam_group(group)

    _hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
              "decoupled_weight_decay")

    def _update(self, p, d, grad, hyper):
        lr, betas, eps, weight_decay, amsgrad, maximize, decoupled = hyper
        beta1, beta2 = betas
        state, step = self._state_for(p, ("exp_avg", "exp_avg_sq"))
        g = self._decayed_grad(p, grad, lr, weight_decay, maximize, decoupled)

        t = self._buf(d, 1)
        exp_avg, exp_avg_sq = _adam_moments(state, g, beta1, beta2, t)

        if amsgrad:
            max_sq = _state_buf(state, "max_exp_avg_sq", d)  # may be switched on late
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            exp_avg_sq = max_sq
        _denominator(exp_avg_sq, step, beta2, eps, t)
        self._add_quotient(d, exp_avg, -lr / (1 - beta1**step), t)

    # ------------------------------------------------ all of a group's parameters at once
    def _step_group(self, group):
        """A group whose parameters all have gradients and share a step count is updated
        as one flat vector (``_step_flat``); any other, parameter by parameter."""
        if not self._step_flat(group):
            super()._step_group(group)

    def _step_flat(self, group) -> bool:
        """Adam's arithmetic over all of ``group``'s parameters at once, as PyTorch's
        multi-tensor (foreach) path does it: the moments live in one flat vector each
        (the state's ``exp_avg``/``exp_avg_sq`` are views into them), the gradients are
        gathered into a third, and each elementwise step is one NumPy call over all of
        them instead of one per parameter. The same operations in the same order, so
        the same values as ``_update``, bit for bit. A GPT step's 29 AdamW parameters
        (110k values): 0.53 -> 0.32 ms. Returns False (nothing done) where the group does
        not fit: a missing gradient, amsgrad or maximize, mixed dtypes, unequal steps,
        fewer than two parameters."""
        params = group["params"]
        if len(params) < 2 or group["amsgrad"] or group["maximize"]:
            return False
        grads = []
        dt = params[0]._data.dtype
        for p in params:
            grad = p.grad
            if (grad is None or grad._data.dtype != dt or p._data.dtype != dt
                    or grad._data.shape != p._data.shape):
                return False
            grads.append(grad._data)
        if dt.kind != "f":
            return False
        flat = self._flat_state_of(group, params)
        if flat is None:
            return False
        m, v, g, t, u, step_views = flat
        # Every check passed: from here on the step is taken.
        np.concatenate([gr.reshape(-1) for gr in grads], out=g)
        steps = [self.state[p]["step"]._data for p in params]
        for st in steps:
            np.add(st, 1, out=st)
        step = float(steps[0])
        lr, (beta1, beta2), eps, weight_decay = (group["lr"], group["betas"], group["eps"],
                                                 group["weight_decay"])
        decoupled = group["decoupled_weight_decay"]
        if weight_decay != 0:
            if decoupled:
                for p in params:
                    np.multiply(p._data, 1 - lr * weight_decay, out=p._data)
            else:
                # _grad's L2 decay, p * wd + grad, with p gathered into the scratch vector
                np.concatenate([p._data.reshape(-1) for p in params], out=u)
                np.multiply(u, weight_decay, out=u)
                np.add(u, g, out=g)
        _update_moments(m, v, g, beta1, beta2, t)
        _denominator(v, step, beta2, eps, t)
        np.multiply(m, -lr / (1 - beta1**step), out=u)  # _add_quotient's order
        np.divide(u, t, out=u)
        for p, part in zip(params, step_views):
            d = p._data
            np.add(d, part, out=d)
            p._vc[0] += 1
        return True

    def _flat_state_of(self, group, params):
        """``(exp_avg, exp_avg_sq, grad, scratch, scratch, per-parameter views of the
        last scratch)`` flat vectors for ``group``, the state's moment arrays made views
        into the first two (zeros on the first step; the values they held otherwise).
        None where the parameters' steps differ (some skipped a step) or some have
        state and others none."""
        key = id(group)
        cache = self.__dict__.setdefault("_flat_cache", {})
        entry = cache.get(key)
        state = self.state
        if entry is not None and entry[0] is group and len(entry[1]) == len(params):
            _, ids, m_views, flat = entry
            ok = True
            step0 = None
            for p, pid, mv in zip(params, ids, m_views):
                st = state.get(p)
                if (id(p) != pid or st is None or st["exp_avg"]._data is not mv[0]
                        or st["exp_avg_sq"]._data is not mv[1]):
                    ok = False
                    break
                s = st["step"]._data
                if step0 is None:
                    step0 = s
                elif s != step0:
                    return None
            if ok:
                return flat
        # (Re)build: the first step, or the state was replaced (load_state_dict).
        have = [p in state and "exp_avg" in state[p] for p in params]
        if any(have) and not all(have):
            return None
        if all(have):
            steps = {float(state[p]["step"]._data) for p in params}
            if len(steps) != 1 or any(state[p]["exp_avg"]._data.shape != p._data.shape
                                      for p in params):
                return None
        dt = params[0]._data.dtype
        n = sum(p._data.size for p in params)
        m, v, g, t, u = (np.zeros(n, dt) for _ in range(5))
        m_views, u_views, o = [], [], 0
        for p, had in zip(params, have):
            shape, k = p._data.shape, p._data.size
            mv, vv = m[o:o + k].reshape(shape), v[o:o + k].reshape(shape)
            if had:
                st = state[p]
                mv[...] = st["exp_avg"]._data
                vv[...] = st["exp_avg_sq"]._data
                st["exp_avg"]._data, st["exp_avg_sq"]._data = mv, vv
            else:
                st = state[p]
                st["step"] = Tensor._wrap(np.zeros((), _STEP_DTYPE))
                st["exp_avg"], st["exp_avg_sq"] = Tensor._wrap(mv), Tensor._wrap(vv)
            m_views.append((mv, vv))
            u_views.append(u[o:o + k].reshape(shape))
            o += k
        flat = (m, v, g, t, u, u_views)
        for k in [k for k, e in cache.items() if not any(e[0] is gr for gr in self.param_groups)]:
            del cache[k]  # groups replaced since (load_state_dict): their vectors go
        cache[key] = (group, [id(p) for p in params], m_views, flat)
        return flat


def _denominator(exp_avg_sq, step, beta2, eps, out):
    """Adam's ``sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps`` into ``out``, in
    PyTorch's order."""
    np.sqrt(exp_avg_sq, out=out)
    np.divide(out, (1 - beta2**step) ** 0.5, out=out)
    np.add(out, eps, out=out)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the step.

    Computed exactly as ``torch.optim.AdamW`` does; the decay defaults to ``1e-2``.

    >>> import nabla
    >>> w = nabla.tensor([1.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = nabla.tensor([0.0])
    >>> opt.step(); w          # no gradient: only the decay, 1 * (1 - 0.1 * 0.5)
    tensor([0.95], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
