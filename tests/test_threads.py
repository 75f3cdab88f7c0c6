"""nabla.threads: batch-parallel kernels give what the one-thread ones give."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import nabla
from nabla import threads


def test_split_covers_the_range_in_order(two_threads):
    seen = []
    parts = threads.split(lambda lo, hi: seen.append((lo, hi)) or (lo, hi), 10, min_rows=2)
    assert parts == [(0, 5), (5, 10)]
    assert sorted(seen) == parts
    # Too few rows for two parts: one call on this thread.
    assert threads.split(lambda lo, hi: (lo, hi), 3, min_rows=2) == [(0, 3)]


def test_split_runs_parts_on_two_threads(two_threads):
    names = threads.split(lambda lo, hi: threading.current_thread().name, 8)
    assert len(set(names)) == 2 and names[0] == threading.current_thread().name


def test_split_raises_a_part_error_after_every_part_finished(two_threads):
    finished = []

    def part(lo, hi):
        if lo:
            raise ValueError("bad rows")
        finished.append(lo)
        return lo

    with pytest.raises(ValueError, match="bad rows"):
        threads.split(part, 8)
    assert finished == [0]


def test_a_part_that_splits_again_runs_its_parts_itself(two_threads):
    inner = threads.split(lambda lo, hi: threads.split(lambda a, b: (a, b), 8), 8)
    assert inner == [[(0, 8)], [(0, 8)]]


def test_one_thread_means_no_split():
    before = nabla.get_num_threads()
    nabla.set_num_threads(1)
    try:
        assert threads.split(lambda lo, hi: (lo, hi), 100) == [(0, 100)]
    finally:
        nabla.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive integer"):
        nabla.set_num_threads(bad)


@pytest.mark.parametrize("padding,stride", [(2, 1), (0, 1), (1, 2)])
def test_convolution_is_the_same_on_one_or_two_threads(padding, stride, monkeypatch):
    from nabla.ops import conv

    monkeypatch.setattr(conv, "_MIN_PART_MACS", 0)  # split this small convolution too
    calls = []
    monkeypatch.setattr(conv, "split", lambda fn, n, rows: calls.append(
        threads.split(fn, n, rows)) or calls[-1])
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((32, 3, 12, 12)).astype(np.float32)
    w0 = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b0 = rng.standard_normal(5).astype(np.float32)
    g0 = None
    results = []
    before = nabla.get_num_threads()
    try:
        for n in (1, 2):
            nabla.set_num_threads(n)
            x = nabla.tensor(x0, requires_grad=True)
            w = nabla.tensor(w0, requires_grad=True)
            b = nabla.tensor(b0, requires_grad=True)
            out = nabla.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)
            if g0 is None:
                g0 = rng.standard_normal(out.shape).astype(np.float32)
            out.backward(nabla.tensor(g0))
            results.append((out._data, x.grad._data, w.grad._data, b.grad._data))
    finally:
        nabla.set_num_threads(before)
    assert [len(parts) for parts in calls] == [1, 1, 2, 2]  # forward, backward; 1 then 2
    (o1, gx1, gw1, gb1), (o2, gx2, gw2, gb2) = results
    # Every sample is computed alike; only the sums over samples (the weight and bias
    # gradients) are added up in a different order (two partial sums).
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(gx1, gx2)
    np.testing.assert_allclose(gb1, gb2, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gw1, gw2, rtol=1e-5, atol=1e-4)
    assert not np.array_equal(gw1, np.zeros_like(gw1))


def test_two_user_threads_share_the_pool_without_deadlock(two_threads):
    # A caller that finds the workers busy runs its parts itself: none waits on another.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    w0 = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)

    def run(_):
        x = nabla.tensor(x0, requires_grad=True)
        w = nabla.tensor(w0, requires_grad=True)
        out = nabla.nn.functional.conv2d(x, w, padding=2)
        out.sum().backward()
        return out._data, x.grad._data, w.grad._data

    expected = run(None)
    with ThreadPoolExecutor(2) as users:
        for out, gx, gw in users.map(run, range(6), timeout=60):
            np.testing.assert_array_equal(out, expected[0])
            np.testing.assert_array_equal(gx, expected[1])
            # A caller that finds the workers busy runs the same parts itself: the
            # weight gradient sums them in the same order.
            np.testing.assert_array_equal(gw, expected[2])


def test_default_thread_count_comes_from_the_environment_once(monkeypatch):
    import os
    import subprocess
    import sys

    code = "import nabla; print(nabla.get_num_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "3"
    monkeypatch.setattr(threads, "_setting", [None])
    monkeypatch.setattr(threads, "_default", [])
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert threads.get_num_threads() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # read once: every split asks
    assert threads.get_num_threads() == 5


def test_big_zeros_are_zero_in_memory_that_held_other_values(two_threads):
    from nabla.threads import STREAM, zeros

    # As after a program's first backward: freed blocks stay in the heap, so the next
    # array of the same size reuses this dirty one (fresh pages would be zero anyway).
    nabla.backend.tune_allocator()
    shape = (700, STREAM // 700 + 3)  # past the threshold, rows not a power of two
    dirty = np.full(shape, 7.0, np.float32)
    del dirty
    z = zeros(shape, np.float32)
    assert z.shape == shape and z.dtype == np.float32
    assert not z.any()
    assert zeros((3, 4), "float64").tolist() == [[0.0] * 4] * 3  # the small path
    assert zeros(5, np.int64).tolist() == [0] * 5


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("rows", [3, 2100])  # one core, and parts on the threads
def test_add_rowwise_adds_the_bias_to_every_row(two_threads, order, rows):
    from nabla.threads import add_rowwise

    rng = np.random.default_rng(5)
    out0 = rng.standard_normal((rows, 2049)).astype(np.float32)
    b = rng.standard_normal(2049).astype(np.float32)
    out = np.array(out0, order=order)
    add_rowwise(out, b)
    np.testing.assert_array_equal(out, out0 + b)  # the same single rounding per element
