"""``torch.cuda.amp``: ``GradScaler`` and ``autocast`` for the ``cuda`` device.

With no GPU they are disabled (with PyTorch's warning, as PyTorch on a CPU-only machine
does) and pass everything through unchanged: the scale is 1.0 and ``step`` just calls
the optimizer. For mixed precision on the CPU use ``nabla.amp`` with ``"cpu"``.

>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     scaler = GradScaler()
>>> scaler.is_enabled(), scaler.get_scale()
(False, 1.0)
"""

from __future__ import annotations

from .. import amp as _amp


def GradScaler(init_scale: float = 2.0**16, growth_factor: float = 2.0,  # noqa: N802
               backoff_factor: float = 0.5, growth_interval: int = 2000,
               enabled: bool = True) -> _amp.GradScaler:
    """``nabla.amp.GradScaler("cuda", ...)``: disabled, since there is no GPU."""
    return _amp.GradScaler("cuda", init_scale, growth_factor, backoff_factor,
                           growth_interval, enabled)


def autocast(enabled: bool = True, dtype=None, cache_enabled: bool = True) -> _amp.autocast:
    """``nabla.amp.autocast("cuda", ...)``: disabled, since there is no GPU."""
    return _amp.autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
