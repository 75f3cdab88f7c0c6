"""``LRScheduler``: the base of the learning-rate schedulers (see ``lr_scheduler``)."""

from __future__ import annotations

from .optimizer import Optimizer

__all__ = ["LRScheduler"]


def _lrs(optimizer) -> list:
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class of the schedulers: subclasses implement ``get_lr()``.

    ``last_epoch`` is the index of the last epoch seen; leave it at ``-1`` except when
    resuming, where every group must then already hold an ``"initial_lr"``. Creating
    a scheduler performs one initial ``step()`` (epoch 0), as in PyTorch.

    >>> import nabla
    >>> from nabla.optim import SGD
    >>> opt = SGD([nabla.zeros(1, requires_grad=True)], lr=0.1)
    >>> from nabla.optim.lr_scheduler import ExponentialLR
    >>> sched = ExponentialLR(opt, gamma=0.5)
    >>> sched.last_epoch, sched.base_lrs, sched.get_last_lr()
    (0, [0.1], [0.1])
    >>> sched.step(); sched.last_epoch, sched.get_last_lr(), opt.param_groups[0]["lr"]
    (1, [0.05], 0.05)
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming a scheduler with last_epoch >= 0: load the optimizer's "
                        "state dict first, or start with last_epoch=-1"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The learning rates for ``last_epoch`` (called by ``step``)."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates set by the last ``step()``, one per param group."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set the new learning rates on the optimizer.

        Passing ``epoch`` jumps there, using the closed form where the scheduler has one
        (PyTorch deprecates this; it is kept for compatibility).
        """
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Move to the next epoch (or to ``epoch``) and set its learning rates."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (save the optimizer's own state too)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by ``state_dict()``."""
        self.__dict__.update(state_dict)
