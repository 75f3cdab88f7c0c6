"""Rosenblatt's perceptron: a step unit trained by the perceptron learning rule.

Convention: the unit outputs 1 when ``w·x + b > 0`` and 0 otherwise. The course states
it with a threshold instead of a bias, "output 1 if w·x > threshold": that is the same
unit with ``bias = -threshold``, and both spellings are accepted.

>>> from nabla import nn
>>> p = nn.Perceptron(2)
>>> result = p.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1])  # logical AND
>>> result.converged, p.predict([[1, 1], [1, 0]]).tolist()
(True, [1, 0])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ... import backend
from ...tensor import Tensor
from .. import functional as F
from ..module import Module, Parameter

__all__ = ["Perceptron", "PerceptronResult", "NotLinearlySeparableError",
           "ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """The perceptron rule did not find a separating line within its epoch budget."""


class NotLinearlySeparableError(RuntimeError):
    """Raised by ``Perceptron.fit(raise_on_failure=True)`` when training does not converge."""


@dataclass
class PerceptronResult:
    """What ``Perceptron.fit`` reports.

    ``converged``: an epoch went by without a mistake. ``epochs``: epochs run.
    ``errors``: mistakes per epoch. ``cycled``: the weights came back to a state seen at
    the start of an earlier epoch, so the rule would loop forever: by the perceptron
    convergence theorem the data is then certainly not linearly separable.
    """

    converged: bool
    epochs: int
    errors: list = field(default_factory=list)
    cycled: bool = False

    @property
    def linearly_separable(self):
        """True if training converged; False if it provably cycles; None if unknown."""
        return True if self.converged else (False if self.cycled else None)


def _as_array(x, name: str) -> np.ndarray:
    arr = x._data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"Perceptron: {name} must be numeric, got {arr.dtype}")
    return arr


class Perceptron(Module):
    """A single step unit: ``output = 1 if w·x + b > 0 else 0``.

    Build it from a size (weights start at zero) or from given weights, with either a
    ``bias`` or a ``threshold`` (``bias = -threshold``):

    >>> from nabla import nn
    >>> p = nn.Perceptron(weights=[2, 6, 2], threshold=5)  # fires exactly when x[1] is on
    >>> p.predict([[1, 0, 1], [0, 1, 0]]).tolist()
    [0, 1]
    >>> surf = nn.Perceptron(weights=[5, 2, 4], bias=-3)  # 5*1 + 2*0 + 4*1 - 3 = 6 > 0
    >>> surf.decision_function([1, 0, 1]).item(), surf.predict([1, 0, 1]).item()
    (6.0, 1)

    It learns by the perceptron rule (``fit``), not by gradients: the step function has
    no useful derivative, so ``weight`` and ``bias`` are Parameters with
    ``requires_grad=False`` (they still appear in ``state_dict``).
    """

    def __init__(self, n_inputs: int | None = None, *, weights=None, bias=None,
                 threshold=None, lr: float = 1.0, dtype=None):
        super().__init__()
        if bias is not None and threshold is not None and float(bias) != -float(threshold):
            raise ValueError(
                f"Perceptron: give either bias or threshold (bias = -threshold), got "
                f"bias={bias} and threshold={threshold}"
            )
        dt = backend.dtype(dtype).np if dtype is not None else backend.get_default_dtype().np
        if weights is not None:
            w = np.array(_as_array(weights, "weights"), dtype=dt).reshape(-1)
            if n_inputs is not None and int(n_inputs) != w.size:
                raise ValueError(
                    f"Perceptron: n_inputs={n_inputs} but {w.size} weights were given"
                )
        elif n_inputs is None:
            raise TypeError("Perceptron needs n_inputs or weights")
        else:
            w = np.zeros(int(n_inputs), dtype=dt)
        b = -float(threshold) if threshold is not None else float(bias or 0.0)
        if lr <= 0:
            raise ValueError(f"Perceptron: the learning rate must be positive, got {lr}")
        self.n_inputs = w.size
        self.lr = float(lr)
        self.weight = Parameter(w, requires_grad=False)
        self.bias = Parameter(np.array(b, dtype=dt), requires_grad=False)

    @property
    def threshold(self) -> float:
        """The course's threshold: the unit fires when ``w·x > threshold``."""
        return -float(self.bias._data)

    def _inputs(self, X) -> tuple[np.ndarray, bool]:
        x = _as_array(X, "X").astype(self.weight._data.dtype, copy=False)
        single = x.ndim == 1
        if single:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"Perceptron with {self.n_inputs} inputs expects X of shape "
                f"(n_samples, {self.n_inputs}) or ({self.n_inputs},), got {tuple(x.shape)}"
            )
        return x, single

    def decision_function(self, X) -> Tensor:
        """The net input ``w·x + b`` (positive means output 1)."""
        x, single = self._inputs(X)
        z = x @ self.weight._data + self.bias._data
        return Tensor._wrap(z[0] if single else z)

    def forward(self, x):
        """The step of ``x @ w + b``: a float tensor of 0s and 1s (no gradient)."""
        return F.step(self.decision_function(x))

    def predict(self, X) -> Tensor:
        """Class labels 0 or 1 (int64), for one sample ``(n_inputs,)`` or a batch."""
        return Tensor._wrap((self.decision_function(X)._data > 0).astype(np.int64))

    def fit(self, X, y, epochs: int = 100, raise_on_failure: bool = False,
            warn: bool = True) -> PerceptronResult:
        """Train with the perceptron learning rule, one sample at a time, in order:
        ``w <- w + lr (y - ŷ) x`` and ``b <- b + lr (y - ŷ)``.

        Stops after the first epoch without a mistake (``converged=True``). If the
        weights return to where they stood at the start of an earlier epoch, the rule
        would repeat itself forever, so the data cannot be linearly separable (XOR is
        the classic case): training stops with ``cycled=True``. Without convergence,
        ``fit`` warns (``ConvergenceWarning``), or raises ``NotLinearlySeparableError``
        with ``raise_on_failure=True``.

        >>> from nabla import nn
        >>> r = nn.Perceptron(2).fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0], warn=False)
        >>> r.converged, r.cycled, r.linearly_separable
        (False, True, False)
        """
        x, _ = self._inputs(X)
        t = _as_array(y, "y").reshape(-1)
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"Perceptron.fit: X has {x.shape[0]} samples but y has "
                             f"{t.shape[0]} labels")
        if not np.isin(t, (0, 1)).all():
            raise ValueError(
                f"Perceptron.fit: labels must be 0 or 1, got values {np.unique(t).tolist()}"
            )
        w, b, lr = self.weight._data, self.bias._data, self.lr
        errors = []
        seen = set()
        converged = cycled = False
        epoch = 0
        for epoch in range(1, int(epochs) + 1):
            state = (w.tobytes(), b.tobytes())
            if state in seen:
                cycled = True
                epoch -= 1
                break
            seen.add(state)
            mistakes = 0
            # The classic rule is online: each update changes the prediction of the next
            # sample, so this loop over samples cannot be vectorised away.
            for xi, ti in zip(x, t):
                pred = 1 if float(xi @ w + b) > 0 else 0
                if pred != ti:
                    delta = lr * (ti - pred)
                    w += delta * xi
                    b += delta
                    mistakes += 1
            errors.append(mistakes)
            if mistakes == 0:
                converged = True
                break
        self.weight._vc[0] += 1
        self.bias._vc[0] += 1
        result = PerceptronResult(converged, epoch, errors, cycled)
        if not converged:
            why = (
                "the weights returned to an earlier state, so the rule cycles forever: the "
                "data is not linearly separable"
                if cycled
                else f"no separating line was found within {epochs} epoch"
                f"{'' if epochs == 1 else 's'}: the data may not "
                "be linearly separable (or needs more epochs)"
            )
            msg = f"Perceptron did not converge: {why}."
            if raise_on_failure:
                raise NotLinearlySeparableError(msg)
            if warn:
                warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        return result

    def extra_repr(self) -> str:
        return f"n_inputs={self.n_inputs}, lr={self.lr}"
