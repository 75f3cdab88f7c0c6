"""Loading nabla's optional compiled kernels (Numba: ``pip install 'nabla[speed]'``).

Each compiled path (the LSTM's, Winograd's convolution, max pooling) loads through
``load`` on its first use, never at ``import nabla``: Numba imported, the kernels
compiled (or read from Numba's disk cache) and checked on a small case against known
values. Without Numba, or with ``NABLA_NUMBA=0``, there is nothing to load and the
NumPy path runs, silently; a Numba that cannot compile a kernel, or a kernel that fails
its check, means a warning and the NumPy path.

>>> once([], "nothing", lambda: None, "NumPy") is None
True
"""

from __future__ import annotations

import os
import threading
import warnings

_loading = threading.Lock()


def load(what, build, fallback):
    """``build()`` (which imports, compiles and checks ``what``), or None: when
    ``NABLA_NUMBA=0``, without Numba, or, with a warning naming ``what`` and the
    ``fallback`` used instead, when ``build`` raises."""
    if os.environ.get("NABLA_NUMBA", "1") == "0":
        return None
    try:
        import numba  # noqa: F401  (only to know whether it is there)
    except ImportError:
        return None  # not installed: the usual case, nothing to say
    try:
        return build()
    except Exception as e:  # a Numba that does not work with this NumPy or machine
        warnings.warn(f"nabla: Numba is installed but {what} could not be compiled "
                      f"({type(e).__name__}: {e}); using {fallback}", stacklevel=4)
        return None


def once(slot, what, build, fallback):
    """``load``'s result, kept in the list ``slot`` (a compiled path's module global): the
    first call loads, under a lock (two threads of a split asked at once, and both
    loaded), the others return what it found."""
    if not slot:
        with _loading:
            if not slot:
                slot.append(load(what, build, fallback))
    return slot[0]
