"""The shape of the code: imports point one way, and no function in the shipped code is over 60 lines.

docs/architecture.md draws the package graph this test checks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
CORE = REPO_ROOT / "layers" / "core"
MAX_FUNCTION_LINES = 60
# local/ is being split into rooms (issue 11 item 5); it joins this list once its commands are short.
SHORT_FUNCTION_ROOTS = ("layers", "functions")
# Still long, each with an owner: the runner rewrite (issue 9) replaces the engine's execute/_run_phase
# and the process runner. Drop an entry once its function is short; never add one.
STILL_LONG = {
    "layers/core/testgenie/orchestrator/engine.py execute",
    "layers/core/testgenie/orchestrator/engine.py _run_phase",
    "layers/core/testgenie/orchestrator/runners/process.py run_command",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.Module) -> Iterator[str]:
    """Modules imported when the module is imported: top level, not under TYPE_CHECKING, not lazily."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)


def _package_of(module: str) -> str:
    """testgenie.queue.service -> queue; testgenie.db -> db."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((CORE / "testgenie").rglob("*.py")):
        source = _package_of(_module_name(path))
        edges = graph.setdefault(source, set())
        for target in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if target.startswith("testgenie.") and _package_of(target) != source:
                edges.add(_package_of(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_one_and_only_one_that_is_there() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_core_packages_import_one_way() -> None:
    graph = package_graph()

    assert {"queue", "execution", "records", "entrypoints", "orchestrator"} <= set(graph)
    assert find_cycle(graph) is None
    # records sits below both queue and execution (docs/architecture.md).
    assert "queue" not in graph["records"]
    assert "execution" not in graph["records"]
    assert "execution" not in graph["queue"]


def _functions(root: Path) -> Iterator[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted(root.rglob("*.py")):
        if ".venv" in path.parts or "__pycache__" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path, node


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    found = []
    for path, node in _functions(root):
        lines = (node.end_lineno or node.lineno) - node.lineno + 1
        if lines > limit:
            found.append(f"{root.name}/{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_long_functions_are_found(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (tmp_path / "m.py").write_text(f"def long():\n{body}\n\ndef short():\n    return 1\n")
    assert [entry.split(" ", 1)[1] for entry in long_functions(tmp_path)] == ["long (62 lines)"]


def _key(entry: str) -> str:
    """'layers/x.py:12 name (70 lines)' -> 'layers/x.py name'."""
    location, name = entry.split(" ")[:2]
    return f"{location.rsplit(':', 1)[0]} {name}"


@pytest.mark.parametrize("root", SHORT_FUNCTION_ROOTS)
def test_no_function_is_over_60_lines(root: str) -> None:
    found = long_functions(REPO_ROOT / root)

    assert [entry for entry in found if _key(entry) not in STILL_LONG] == []
