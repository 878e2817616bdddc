"""Nothing outside a package imports that package's private modules or names (tests and benchmarks excepted).

A private module (``synthetic_data._postgres``) or name (``from statelab.linkage import _digits``) may change
without notice; code in another package, the hub configuration, the book's extension, notebooks and the
README must use the public API (``synthetic_data.create_class``). Python files are read with ``ast``;
notebooks' code cells and the README's code blocks with the same parser where they parse, else line by line.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "tests", "benchmarks", "node_modules", "_build", "build", ".ipynb_checkpoints",
             "release", "submitted", "autograded", "feedback", "generated", ".data", "__pycache__"}
PACKAGES = sorted(p.parent.name for p in REPO.glob("*/__init__.py"))
_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w\s,()]+)|import\s+([\w.]+))", re.M)


def _files(pattern: str) -> list[Path]:
    out = []
    for path in REPO.rglob(pattern):
        rel = path.relative_to(REPO)
        if not set(rel.parts[:-1]) & SKIP_DIRS and not any(part.startswith(".") for part in rel.parts[:-1]):
            out.append(path)
    return sorted(out)


def _package_of(path: Path) -> str | None:
    """Dotted package a file belongs to (``statelab.datalabs`` for statelab/datalabs/quality.py), or None."""
    parts = path.relative_to(REPO).parts[:-1]
    if not parts or parts[0] not in PACKAGES:
        return None
    return ".".join(parts)


def _imports(source: str, package: str | None) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every import in ``source``; relative ones resolved."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a notebook cell with magics, a README fragment: fall back to lines
        found = []
        for m in _IMPORT_LINE.finditer(source):
            if m.group(3):
                found.append((m.group(3), []))
            else:
                names = [n.strip().split(" as ")[0] for n in m.group(2).strip("() \n").split(",") if n.strip()]
                found.append((m.group(1), names))
        return found
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                if package is None:
                    continue
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            found.append((module, [alias.name for alias in node.names]))
    return found


def private_imports(source: str, importer: Path) -> list[str]:
    """The imports in ``source`` that reach into a private module or name of a package ``importer`` is not in."""
    package = _package_of(importer) if importer.suffix == ".py" else None
    problems = []
    for module, names in _imports(source, package):
        parts = module.split(".")
        if parts[0] not in PACKAGES:
            continue
        targets = [parts] + [parts + [n] for n in names]
        for target in targets:
            private = next((i for i, p in enumerate(target) if p.startswith("_") and not p.startswith("__")), None)
            if private is None:
                continue
            owner = target[:private]
            while owner and not (REPO.joinpath(*owner) / "__init__.py").exists():
                owner = owner[:-1]   # a private name in a module belongs to the module's package
            owner = ".".join(owner)
            if package is None or not (package == owner or package.startswith(owner + ".")):
                problems.append(".".join(target))
    return sorted(set(problems))


def _sources() -> list[tuple[Path, str]]:
    out = [(p, p.read_text(encoding="utf-8")) for p in _files("*.py")]
    for nb in _files("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        out += [(nb, "".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    for md in _files("*.md"):
        out += [(md, block) for block in code_blocks(md.read_text(encoding="utf-8"))]
    return out


def code_blocks(markdown: str) -> list[str]:
    """The Python (or unlabeled) fenced code blocks of a Markdown text."""
    blocks, current, lang = [], None, ""
    for line in markdown.splitlines():
        fence = re.match(r"^\s*(```+|~~~+)\s*\{?([\w-]*)", line)
        if fence and current is None:
            current, lang = [], fence.group(2).lower()
        elif fence:
            if lang in ("", "python", "py", "ipython3", "code-cell"):
                blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_no_private_imports_across_packages():
    sources = _sources()
    assert len(sources) > 100 and {"synthetic_data", "statelab", "graders"} <= set(PACKAGES)
    problems = [f"{path.relative_to(REPO)}: {name}" for path, text in sources
                for name in private_imports(text, path)]
    assert not problems, "private modules or names used from outside their package:\n" + "\n".join(problems)


def test_code_blocks_are_read_in_pairs():
    text = "```bash\nimport x\n```\n\n```python\nfrom synthetic_data._postgres import create_class\n```\n"
    assert code_blocks(text) == ["from synthetic_data._postgres import create_class"]


@pytest.mark.parametrize("source, importer, expected", [
    ("from synthetic_data._postgres import create_class", "binder/hub/jupyterhub_config.py",
     ["synthetic_data._postgres", "synthetic_data._postgres.create_class"]),
    ("import synthetic_data._schema as s", "statelab/catalog.py", ["synthetic_data._schema"]),
    ("from statelab.linkage import _check_identifier", "graders/x.py", ["statelab.linkage._check_identifier"]),
    ("from .snapshot import _age_sql", "statelab/outcomes.py", []),
    ("from ._schema import tables", "synthetic_data/_postgres.py", []),
    ("from ..identifiers import clean_ssn_sql", "statelab/datalabs/quality.py", []),
    ("from statelab.datalabs import _private", "statelab/outcomes.py", ["statelab.datalabs._private"]),
    ("from synthetic_data import create_class", "README.md", []),
    ("import synthetic_data as sd\n%time sd.connect()\nfrom synthetic_data._x import y", "modules/a.ipynb",
     ["synthetic_data._x", "synthetic_data._x.y"]),
])
def test_the_check_itself(source, importer, expected):
    assert private_imports(source, REPO / importer) == expected
