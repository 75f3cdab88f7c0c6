"""``torch.compile`` and ``torch.compiler``: nabla does not compile; models run eagerly.

``nabla.compile(model)`` returns ``model`` itself (a module or a function), so a program
that compiles its model runs unchanged and gives the same numbers; the first call warns
once that nothing was compiled.

>>> import warnings, nabla
>>> model = nabla.nn.Linear(2, 1)
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     nabla.compile(model) is model
True
"""

from __future__ import annotations

import warnings

_warned = [False]


def compile(model=None, *, fullgraph: bool = False, dynamic=None,  # noqa: A001
            backend="inductor", mode=None, options=None, disable: bool = False):
    """Return ``model`` unchanged (or, called without one, a decorator that does), with
    a one-time ``UserWarning`` that nabla runs it eagerly. The arguments are PyTorch's
    and are accepted and ignored."""
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                  mode=mode, options=options, disable=disable)
    if not callable(model):
        raise TypeError(f"compile expects a Module or a function, got {type(model).__name__}")
    if not _warned[0] and not disable:
        _warned[0] = True
        warnings.warn("nabla.compile: nabla does not compile models; the model is returned "
                      "unchanged and runs eagerly (same results). The call can be removed.",
                      UserWarning, stacklevel=2)
    return model


def is_compiling() -> bool:
    """False: nothing in nabla is ever being compiled."""
    return False


def disable(fn=None, recursive: bool = True):
    """PyTorch's marker for code the compiler must skip: returns ``fn`` unchanged."""
    if fn is None:
        return lambda f: f
    return fn


def reset() -> None:
    """Does nothing: there are no compiled caches to clear."""
