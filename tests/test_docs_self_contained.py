"""Everything a user or contributor reads is inside the repository: a fresh clone's
documents (every Markdown file, the examples' docstrings) refer to no path outside it."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LINK = re.compile(r"\]\(([^)\s]+)")                       # [text](target), ![alt](target)
UP_PATH = re.compile(r"(?<![\w./~])((?:\.\./)+[\w.-]+(?:/[\w.-]+)*)")   # ../x/y in prose or code
MACHINE_PATH = re.compile(r"(?<![\w.~/])(/(?:work|home|root|Users|mnt)/[\w./-]*)")


def documents(root: Path) -> dict:
    """name -> text of each user-facing document under ``root``."""
    docs = {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*.md")) if ".git" not in p.parts}
    for p in sorted((root / "examples").glob("*.py")):
        docs[str(p.relative_to(root))] = ast.get_docstring(ast.parse(p.read_text())) or ""
    return docs


def outside_references(root: Path) -> list:
    """'document: reference' for each path a document names that lies outside ``root``.
    Links resolve from the document's folder (as a Markdown viewer does); other paths
    from the repository root (where the README's commands run)."""
    root = root.resolve()
    found = []

    def outside(base: Path, ref: str) -> bool:
        target = (base / ref).resolve()
        return target != root and root not in target.parents

    for name, text in documents(root).items():
        base = (root / name).parent
        for ref in LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:|#", ref):  # a URL or an anchor
                continue
            if outside(base, ref.split("#")[0]):
                found.append(f"{name}: link {ref}")
        prose = LINK.sub("](", text)  # links were checked from their own folder
        refs = [ref.rstrip(".,;:") for ref in UP_PATH.findall(prose)]  # not the full stop
        found += [f"{name}: {ref}" for ref in refs if outside(root, ref)]
        found += [f"{name}: {ref.rstrip('.,;:')}" for ref in MACHINE_PATH.findall(prose)]
    return found


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    dest = tmp_path_factory.mktemp("clone") / "nabla"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{ROOT}", str(dest)],
                   check=True, timeout=120, capture_output=True)
    return dest


def test_a_fresh_clone_refers_to_nothing_outside_it(clone):
    docs = documents(clone)
    assert "README.md" in docs and "docs/examples.md" in docs  # the scan sees them
    assert outside_references(clone) == []


def test_the_readme_links_the_design_and_tells_how_to_get_mnist(clone):
    readme = (clone / "README.md").read_text()
    assert "](docs/design.md)" in readme
    assert "nabla train --dataset mnist --download" in readme
    # The contributor's line: where the tests find the MNIST sample, and what skips.
    assert "shared/data/mnist-sample" in readme and "skip" in readme


def test_the_scan_finds_what_a_clone_lacks(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "examples").mkdir()
    (tmp_path / "README.md").write_text(
        "See `../shared/DESIGN.md`; run `nabla train --data-dir ../shared/data/x`.\n"
        "[inside](docs/a.md) [outside](../elsewhere.md) [web](https://example.org/../x)\n")
    (tmp_path / "docs" / "a.md").write_text(
        "[fine](../examples/e.py) ![img](images/p.png) [escapes](../../up.md) /work/shared/y\n")
    (tmp_path / "examples" / "e.py").write_text('"""Data in ../shared/data/mnist-sample."""\n')
    assert sorted(outside_references(tmp_path)) == sorted([
        "README.md: ../shared/DESIGN.md", "README.md: ../shared/data/x",
        "README.md: link ../elsewhere.md", "docs/a.md: link ../../up.md",
        "docs/a.md: /work/shared/y", "examples/e.py: ../shared/data/mnist-sample"])
