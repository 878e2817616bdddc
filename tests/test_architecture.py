"""The structure ARCHITECTURE.md draws: layers, no import cycles, small files.

Every import among the project's own modules counts, at module level or inside a function: a lazy import
is still a dependency, and a cycle makes the order of initialization (and of changes) hard to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("synthetic_data", "statelab", "graders")
#: which packages each may import (the layers)
ALLOWED = {"synthetic_data": set(), "statelab": {"synthetic_data"}, "graders": set()}
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    graph = {n: _imports(n, p, known) for n, p in mods.items()}
    # a package's __init__ importing its own submodules is how packages expose their API, not a dependency cycle
    for n in graph:
        graph[n] = {t for t in graph[n] if not (t.startswith(n + ".") and mods[n].name == "__init__.py")}
    return graph


def test_no_import_cycles():
    graph = _graph()
    state, stack, cycles = {}, [], []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(" -> ".join(stack[stack.index(m):] + [m]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles:\n  " + "\n  ".join(cycles)


def test_packages_import_only_the_layers_below():
    bad = [f"{n} imports {t}" for n, targets in _graph().items() for t in targets
           if t.split(".")[0] != n.split(".")[0] and t.split(".")[0] not in ALLOWED[n.split(".")[0]]]
    assert not bad, "\n".join(bad)


def test_no_source_file_exceeds_800_lines():
    long = [f"{p.relative_to(REPO)}: {n} lines" for p in _modules().values()
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES]
    assert not long, "\n".join(long)
