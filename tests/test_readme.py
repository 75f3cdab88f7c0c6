"""The README's Python examples run as written, and its two commands are the ones CI uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_blocks_run(index, capsys):
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), namespace)
    assert capsys.readouterr().out.strip()  # each example prints its result


def test_training_loop_example_learns():
    namespace: dict = {}
    block = next(b for b in BLOCKS if "CrossEntropyLoss" in b)
    exec(compile(block, "README.md training loop", "exec"), namespace)
    assert namespace["accuracy"] > 0.9  # three spiral arms, far above chance (1/3)


def test_the_two_commands_are_there_and_ci_runs_the_test_command():
    commands = re.findall(r"```bash\n(pip install[^\n]*)\n```", README)
    assert commands == ['pip install -e . && nabla train',
                        'pip install -e ".[dev]" torch==2.13.0 && python -m pytest']
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]" torch==2.13.0' in ci and "python -m pytest" in ci
