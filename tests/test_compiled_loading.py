"""``ops/compiled.py``: how the compiled paths load, once, and what switches them off."""

from __future__ import annotations

import threading
import time

import pytest

from nabla.ops import compiled


def test_two_threads_asking_at_once_load_once(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "1")
    pytest.importorskip("numba")
    builds = []

    def slow_build():
        builds.append(1)
        time.sleep(0.05)  # long enough for the other thread to ask meanwhile
        return "kernels"

    slot, results = [], []
    threads = [threading.Thread(target=lambda: results.append(
        compiled.once(slot, "test kernels", slow_build, "NumPy"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [1] and results == ["kernels", "kernels"] and slot == ["kernels"]


def test_switched_off_builds_nothing(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    assert compiled.once([], "test kernels", lambda: pytest.fail("built"), "NumPy") is None


def test_a_failing_build_warns_and_gives_none(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "1")
    pytest.importorskip("numba")

    def broken():
        raise RuntimeError("no LLVM here")

    with pytest.warns(UserWarning, match="test kernels could not be compiled.*no LLVM here"
                                         ".*using NumPy"):
        assert compiled.once([], "test kernels", broken, "NumPy") is None
