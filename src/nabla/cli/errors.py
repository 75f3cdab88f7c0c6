"""The CLI's error type and its one-line rendering of any exception."""

from __future__ import annotations


class CLIError(Exception):
    """A problem with the user's request: reported as one line, no traceback, with
    exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if isinstance(e, FileNotFoundError) and e.filename and text.startswith("[Errno"):
        text = f"file not found: {e.filename}"
    return text or type(e).__name__
