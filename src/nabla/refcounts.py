"""Whether a reference count tells nabla that nothing else holds an array.

Three places read ``sys.getrefcount`` to decide that only nabla's own code still refers
to an array or a tensor: the engine adds a gradient into the array it already holds and
lets a leaf keep the engine's array as its ``.grad`` (autograd.py); ``free_consumed``
lets go of intermediates the program has dropped (graph_memory.py); recurrent layers
reuse their buffers (workspace.py). Each counts the references that its own code makes.
CPython up to 3.13 counts all of them. From 3.14 the interpreter may lend a local
variable's reference to a call without counting it (NumPy's temporary elision broke on
exactly this: numpy/numpy#28681), so a count can come out lower than the references
that exist, and an array still held elsewhere could look unshared: a gradient would be
added into someone's array, or an intermediate a program still uses freed. There
``EXACT`` is False, and the three take their safe paths instead: copies, nothing freed,
fresh buffers (tests/test_refcounts.py runs them).

>>> import sys
>>> EXACT == (sys.version_info < (3, 14))
True
"""

from __future__ import annotations

import sys

EXACT = sys.version_info < (3, 14)
