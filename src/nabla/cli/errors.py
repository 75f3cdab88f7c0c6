"""The CLI's error type and its one-line rendering of any exception."""

from __future__ import annotations


class CLIError(Exception):
    """A problem with the user's request: reported as one line, no traceback, with
    exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _one_line(e: BaseException) -> str:
    """The exception as one line, in the user's terms rather than Python's: no
    "[Errno 21]", and the file the user named rather than the temporary file an atomic
    write renames onto it."""
    text = " ".join(str(e).split())
    if isinstance(e, OSError) and e.filename and text.startswith("[Errno"):
        # A failed rename (os.replace) names the temporary file first: report the target.
        name = e.filename2 if e.filename2 is not None else e.filename
        if isinstance(e, FileNotFoundError) and e.filename2 is None:
            text = f"file not found: {name}"
        elif isinstance(e, IsADirectoryError):
            text = f"{name} is a directory; give a file name"
        else:
            text = f"cannot write {name}: {e.strerror}" if e.filename2 is not None \
                else f"{name}: {e.strerror}"
    elif isinstance(e, MemoryError):
        text = f"out of memory{': ' + text if text else ''}; try a smaller model or batch"
    return text or type(e).__name__
