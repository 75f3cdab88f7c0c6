"""The programs here are scripts that train as they are imported: pytest must not collect them.

tests/test_programs.py runs each one in a subprocess, once per library.
"""

collect_ignore_glob = ["*.py"]
