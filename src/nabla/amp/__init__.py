"""``torch.amp``: automatic mixed precision, as it runs on nabla's CPU.

``autocast`` regions run in the tensors' own dtypes (a no-op for float32 models);
``GradScaler`` scales the loss, unscales the gradients, skips steps whose gradients hold
inf or NaN and adapts the scale, with PyTorch's arithmetic. See each for details.

>>> import nabla
>>> nabla.amp.GradScaler("cpu").get_scale()
65536.0
"""

from .autocast_mode import (
    autocast,
    custom_bwd,
    custom_fwd,
    get_autocast_dtype,
    is_autocast_enabled,
)
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype",
           "custom_fwd", "custom_bwd"]
