"""The runtime package has no import cycle, counting imports inside functions (only ``if TYPE_CHECKING:`` is exempt).

A cycle makes import order matter and a module impossible to read on its own: the forms ↔ ingest one did. The
graph is built from the source with ``ast``, so a lazy import inside a function counts as much as a top-level one.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "nxbridge"


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, at any depth, except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports_of(other)
            continue
        yield from _imports_of(child)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _imports(node)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join([*base, *([node.module] if node.module else [])])
    else:
        origin = node.module or ""
    # ``from pkg import name`` imports pkg and, when name is a submodule, pkg.name too.
    return [origin, *(f"{origin}.{alias.name}" for alias in node.names)]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Which of the package's modules each module imports (the longest known module a name starts with)."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree):
            for imported in _targets(name, path.name == "__init__.py", node):
                target = imported
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_runtime_package_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)

    assert len(graph) > 30, "the walk found the package's modules"
    assert cycles(graph) == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        (
            {"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import x\n", "pkg/b.py": "import pkg.a\nx = 1\n"},
            ["pkg.a", "pkg.b"],
        ),
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "def f():\n    from pkg import b\n",
                "pkg/b.py": "from . import a\n",
            },
            ["pkg.a", "pkg.b"],
        ),
        (
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "from .c import y\n",
                "pkg/sub/c.py": "from ..d import z\ny = 1\n",
                "pkg/d.py": "from pkg.sub import y\nz = 2\n",
            },
            ["pkg.d", "pkg.sub", "pkg.sub.c"],
        ),
    ],
    ids=["absolute", "inside-a-function-and-relative", "through-a-package"],
)
def test_a_planted_cycle_is_found(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    assert cycles(import_graph(_package(tmp_path, files))) == [cycle]


def test_imports_for_type_checking_only_are_not_a_cycle(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import x\n",
            "pkg/b.py": """\
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from pkg.a import A
                else:
                    import json
                x = 1
            """,
        },
    )

    assert cycles(import_graph(package)) == []
