"""Shared fixtures: PyTorch as the oracle (skipped where absent), the MNIST sample, and
two threads for the batch-parallel kernels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nabla

# tests/programs/ holds training scripts that train as they are imported: test_programs.py
# runs them in subprocesses, so the doctest collection must not import them.
collect_ignore = ["programs"]

# ../shared/data/mnist-sample beside the repository (see docs/design.md, testing conventions).
MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"


@pytest.fixture
def torch():
    """The torch module, or a skip where it is not installed (nabla never needs it)."""
    return pytest.importorskip("torch")


@pytest.fixture
def mnist_dir() -> Path:
    """The directory of the MNIST sample's IDX files, or a skip saying where it was sought."""
    if not MNIST_DIR.is_dir() or not any(MNIST_DIR.iterdir()):
        pytest.skip(f"MNIST sample not found at {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, so a failure repeats."""
    return np.random.default_rng(0)


@pytest.fixture
def two_threads():
    """``nabla.set_num_threads(2)`` for the test, the setting before restored after."""
    before = nabla.get_num_threads()
    nabla.set_num_threads(2)
    yield
    nabla.set_num_threads(before)


@pytest.fixture(autouse=True)
def _restore_global_state():
    # A test that turns grad mode off or changes the default dtype must not leak it.
    dtype = nabla.get_default_dtype()
    yield
    nabla.set_default_dtype(dtype)
    nabla.autograd._grad_enabled[0] = True
