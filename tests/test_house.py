"""The house's rules that a reader cannot see in one file: no import cycles in src/nabla
(imports inside functions count: they only move the cycle to run time), and no file
over 1,000 lines (docs/design.md, "Layers")."""

from __future__ import annotations

import ast
import os

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
MAX_LINES = 1000


def _modules(root: str) -> dict:
    """``{dotted module name: file path}`` for every .py file under ``root/nabla``; a
    package is named by its ``__init__.py``."""
    out = {}
    for folder, _, files in os.walk(os.path.join(root, "nabla")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_package(path: str) -> bool:
    return os.path.basename(path) == "__init__.py"


def import_graph(root: str = SRC) -> dict:
    """``{module: set of nabla modules it imports}``, every import statement in the file
    counted, at any depth (inside functions, classes, ``if`` blocks). ``from P import x``
    is an edge to ``P.x`` where that is a module, else to ``P`` itself; an import of
    one of the module's own packages is none."""
    modules = _modules(root)
    graph = {}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        package = name if _is_package(path) else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = []
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in modules else source)
            else:
                continue
            for target in targets:
                # ``import a.b.c`` runs a.b.c; its nearest module in nabla is the edge.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # A module's own packages are not edges: Python runs a package's
                # __init__ before any module inside it, so ``from .. import Tensor``
                # names the package the module belongs to, not a module it waits on.
                if target and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycles(graph: dict) -> list:
    """Every strongly connected component of more than one module (Tarjan), each as a
    sorted list: the modules that import one another, directly or round about."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        # Iterative: a deep import chain must not hit Python's recursion limit.
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_in_nabla():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (each group imports itself round about): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_no_file_in_nabla_over_1000_lines():
    long = []
    for path in sorted(_modules(SRC).values()):
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            long.append(f"{os.path.relpath(path, SRC)}: {n} lines")
    assert not long, f"files over {MAX_LINES} lines: " + ", ".join(long)


def test_the_graph_sees_lazy_relative_and_package_imports(tmp_path):
    # The checker itself must catch what the rules are about: a cycle closed only by an
    # import inside a function, ``from . import module``, ``import a.b`` and ``from ..``.
    pkg = tmp_path / "nabla"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text("import nabla.sub.d\n")
    # Its own packages are no edge (their __init__ runs first in any case).
    (pkg / "sub" / "d.py").write_text("def k():\n    import nabla\n    from .. import X\n")
    graph = import_graph(str(tmp_path))
    assert graph == {"nabla": {"nabla.a"}, "nabla.a": {"nabla.sub.b"}, "nabla.sub": set(),
                     "nabla.sub.b": {"nabla.c"}, "nabla.c": {"nabla.sub.d"},
                     "nabla.sub.d": set()}
    assert find_cycles(graph) == []
    (pkg / "sub" / "d.py").write_text("def h():\n    from .. import a\n")  # closes a loop
    assert find_cycles(import_graph(str(tmp_path))) == [
        ["nabla.a", "nabla.c", "nabla.sub.b", "nabla.sub.d"]]
