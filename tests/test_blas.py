"""nabla.threads finds NumPy's OpenBLAS through threadpoolctl, lazily."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nabla import threads


def _numpy_openblas():
    from threadpoolctl import threadpool_info

    found = [i for i in threadpool_info() if i["internal_api"] == "openblas"]
    found.sort(key=lambda i: "numpy" not in i["filepath"])
    return found[0] if found else None


def test_openblas_is_the_library_threadpoolctl_reports():
    info = _numpy_openblas()
    lib = threads.openblas()
    if info is None:
        assert lib is None
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    assert os.path.realpath(lib._name) == os.path.realpath(info["filepath"])
    # The one call made by hand: it stops OpenBLAS's spinning threads before a split.
    if threads._find_blas_shutdown() is None:
        # Newer scipy-openblas builds (NumPy 2.5's) do not export it: a split then only
        # sets OpenBLAS to one thread and back, which must still work.
        threads._restore_blas(threads._quiet_blas())
        pytest.skip("this OpenBLAS build does not export blas_thread_shutdown_")


def test_import_nabla_does_not_import_threadpoolctl():
    code = "import sys, nabla; print('threadpoolctl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_split_parts_run_blas_on_one_thread_and_the_count_comes_back():
    # Each part's matrix products must not start OpenBLAS's own threads too: on two cores,
    # two parts each asking OpenBLAS for two threads ran the MNIST CNN's backward at half
    # speed. After the split, products outside it get every thread back.
    if _numpy_openblas() is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    from threadpoolctl import threadpool_limits

    _, get, _ = threads._blas()
    before = threads.get_num_threads()
    threads.set_num_threads(2)
    try:
        with threadpool_limits(limits=2, user_api="blas"):
            seen = threads.split(lambda lo, hi: get(), 4, min_rows=1)
            assert seen == [1, 1]
            assert get() == 2
    finally:
        threads.set_num_threads(before)
