"""Seeded random number generators.

nabla keeps one global generator (seeded by ``manual_seed``) and lets any sampling
function take its own ``Generator``, so experiments repeat exactly:

>>> import nabla
>>> _ = nabla.manual_seed(0); a = nabla.rand(3)
>>> _ = nabla.manual_seed(0); b = nabla.rand(3)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

import numpy as np

# A new torch.Generator() starts from this seed; nabla's do too, the global one included.
# (PyTorch 2.13 seeds its global generator from the OS instead; nabla does not, so that
# a program that never seeds repeats itself run after run. The streams differ from
# PyTorch's all the same: NumPy's PCG64 draws them.)
DEFAULT_SEED = 67280421310721


class Generator:
    """A seedable source of random numbers (NumPy's PCG64 underneath).

    >>> Generator().initial_seed()
    67280421310721
    >>> g = Generator().manual_seed(42)
    >>> g.initial_seed()
    42
    """

    __slots__ = ("np", "_seed")

    def __init__(self, device="cpu"):
        self._seed = DEFAULT_SEED
        self.np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self._seed = seed
        self.np = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Re-seed from fresh entropy and return the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The generator's full state as plain Python data (safe to store as JSON)."""
        return {"seed": self._seed, "bit_generator": self.np.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._seed = int(state["seed"])
        bg = np.random.PCG64()
        bg.state = state["bit_generator"]
        self.np = np.random.Generator(bg)


default_generator = Generator()  # the same initial seed in every process


def manual_seed(seed: int) -> Generator:
    """Seed nabla's global generator; returns it (as ``torch.manual_seed`` does)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def _np(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (the global one when None)."""
    return (generator or default_generator).np
