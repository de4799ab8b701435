"""The layers hold: what ships never imports the local stack, the shared library never imports its
users, and no two modules import each other (directly or round a longer loop).

Read from the source with ``ast``, not by importing: every ``import`` counts wherever it is written
(module level, inside a function, under ``if TYPE_CHECKING:``), because each one is a dependency a
reader has to follow and a cycle waiting for the first module-level use.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.helpers import ROOT, python_files

SHIPPED = ("switchboard", "sma", "bot", "connect_lambda", "deploy")
LOCAL = "switchboard_local"
# Every package of the repository whose modules take part in the cycle check.
PACKAGES = (*SHIPPED, LOCAL, "reliability", "bench", "tests")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in python_files(*PACKAGES):
        modules[module_name(path)] = path
    return modules


def imported_names(module: str, path: Path, source: str | None = None) -> set[str]:
    """Every name ``module`` imports, absolute: ``import x.y`` as x.y, ``from x import y`` as x.y."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from x import y``: y is the module x.y when there is one, else a name in x (resolve()
            # falls back to the longest module prefix). The package x's own __init__ runs too, as it
            # does for every dotted import; that is not counted as x's dependency here.
            names.update(base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names)
    return names


def resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module an imported name loads (the longest prefix that is one), if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(name, modules) for name in imported_names(module, path)}
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        # Recursion depth is bounded by the longest import chain (tens of modules).
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
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


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(project_modules())


def test_nothing_that_ships_imports_the_local_stack(graph: dict[str, set[str]]) -> None:
    offending = {
        module: sorted(target for target in targets if _in(target, LOCAL))
        for module, targets in graph.items()
        if any(_in(module, package) for package in SHIPPED)
    }
    assert {module: targets for module, targets in offending.items() if targets} == {}


def test_the_shared_library_never_imports_its_users(graph: dict[str, set[str]]) -> None:
    users = ("bot", "sma", "connect_lambda", LOCAL)
    offending = {
        module: sorted(target for target in targets if any(_in(target, user) for user in users))
        for module, targets in graph.items()
        if _in(module, "switchboard")
    }
    assert {module: targets for module, targets in offending.items() if targets} == {}


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


# --- the checker itself: it must see what it claims to see ----------------------------------------


def test_the_checker_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from switchboard_local.stack import LocalStack\n"
        "def later():\n    import bot.app\n    from . import views\n"
    )
    names = imported_names("bot.listeners", tmp_path / "listeners.py", source)
    modules = dict.fromkeys(("bot.listeners", "bot.app", "bot.views", "switchboard_local.stack"), tmp_path)
    assert {resolve(name, modules) for name in names} - {None} == {
        "switchboard_local.stack",
        "bot.app",
        "bot.views",
    }


def test_the_checker_finds_a_cycle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
