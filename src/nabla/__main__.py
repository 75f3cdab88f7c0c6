"""``python -m nabla``: the same as the ``nabla`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
