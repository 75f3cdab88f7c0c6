"""Shared by the tests of nabla's compiled paths (``ops/compiled.py`` loads them)."""

from __future__ import annotations

import os

import pytest


def real_kernels(loader, what):
    """``loader()``'s kernels. The test is skipped where ``NABLA_NUMBA=0`` switches the
    compiled paths off; with Numba installed and the switch on, the kernels must load."""
    if os.environ.get("NABLA_NUMBA") == "0":
        pytest.skip("the compiled path is switched off (NABLA_NUMBA=0)")
    k = loader()
    assert k is not None, f"Numba is installed, yet {what} did not load"
    return k


def count_calls(monkeypatch, module, slot, real, counts, names=None):
    """Put a ``counting`` stand-in for the kernels ``real`` into ``module.slot`` (the list a
    compiled path keeps its kernels in) for this test; returns ``counts``."""
    monkeypatch.setattr(module, slot, [counting(real, counts, names)])
    return counts


def counting(real, counts, names=None):
    """A stand-in for the kernels ``real`` that runs them and counts, in the dict
    ``counts``, the calls of each kernel named in ``names`` (of every one when None)."""

    class Counting:
        def __getattr__(self, name):
            fn = getattr(real, name)
            if names is not None and name not in names:
                return fn

            def counted(*args):
                counts[name] = counts.get(name, 0) + 1
                return fn(*args)

            return counted

    return Counting()
