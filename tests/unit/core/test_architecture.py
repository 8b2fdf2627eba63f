"""The shape of the code: imports point one way, and no function in the shipped code is over 60 lines.

Every import counts: top level, inside a function, under `TYPE_CHECKING`. A lazy or type-only
import still ties two modules together, so a cycle hidden that way is still a cycle. The picture
in docs/architecture.md ("Which package imports which") is compared with the code both ways.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
ARCHITECTURE_DOC = REPO_ROOT / "docs" / "architecture.md"
MAX_FUNCTION_LINES = 60
SHORT_FUNCTION_ROOTS = ("layers", "functions", "local")
# Still long. Drop an entry once its function is short; never add one.
STILL_LONG: set[str] = set()

# Where the shipped code lives: a top-level package name per folder, and the Lambda functions.
PACKAGES = {
    "testgenie": REPO_ROOT / "layers" / "core" / "testgenie",
    "testgenie_local": REPO_ROOT / "local" / "testgenie_local",
}
FUNCTIONS = REPO_ROOT / "functions"
# Modules any package may use; they import only each other, and the picture leaves them out.
LEAVES = frozenset({"testgenie", "errors", "observability", "models_base", "settings", "sql", "suggest"})


# --- reading the code -------------------------------------------------------------------------


def _modules(packages: Mapping[str, Path], functions: Path | None) -> dict[str, tuple[Path, str]]:
    """Every module: dotted name -> (file, the picture's node for it)."""
    found: dict[str, tuple[Path, str]] = {}
    for top, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = (path, _node(parts))
    if functions is not None:
        for path in sorted(functions.glob("*/*.py")):
            found[path.stem] = (path, f"functions/{path.parent.name}")
    return found


def _node(parts: list[str]) -> str:
    """testgenie.queue.service -> queue; testgenie.db -> db; testgenie_local.* -> local."""
    if parts[0] == "testgenie_local":
        return "local"
    return parts[1] if len(parts) > 1 else parts[0]


def _imported(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every module name an import statement anywhere in the file names (functions, TYPE_CHECKING
    and try blocks included), relative imports resolved."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def module_graph(
    packages: Mapping[str, Path] = PACKAGES, functions: Path | None = FUNCTIONS
) -> tuple[dict[str, set[str]], dict[str, str]]:
    """(module -> the project's modules it imports, module -> its node in the picture)."""
    modules = _modules(packages, functions)
    graph: dict[str, set[str]] = {}
    for name, (path, _) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = _imported(tree, name, path.name == "__init__.py")
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph, {name: node for name, (_, node) in modules.items()}


def node_graph(graph: Mapping[str, set[str]], nodes: Mapping[str, str]) -> dict[str, set[str]]:
    """The module graph folded onto the picture's nodes (an import inside one node is no edge)."""
    folded: dict[str, set[str]] = {node: set() for node in nodes.values()}
    for source, targets in graph.items():
        folded[nodes[source]] |= {nodes[target] for target in targets} - {nodes[source]}
    return folded


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
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


# --- reading the picture ----------------------------------------------------------------------

_MERMAID_NODE = re.compile(r"^\s*([\w/]+)(?:\[([^\]]+)\])?\s*$")


def picture_edges(markdown: str, heading: str = "## Which package imports which") -> set[tuple[str, str]]:
    """The edges of the first mermaid flowchart under `heading`; a node is named by its label
    (`execute[functions/execute]`) or else its id."""
    section = markdown.split(heading, 1)[1]
    block = section.split("```mermaid", 1)[1].split("```", 1)[0]
    labels: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()

    def name(token: str) -> str:
        match = _MERMAID_NODE.match(token)
        assert match, f"unreadable node in the picture: {token!r}"
        node_id, label = match.groups()
        if label:
            labels[node_id] = label
        return labels.get(node_id, node_id)

    for line in block.splitlines():
        if "-->" not in line:
            continue
        left, right = line.split("-->", 1)
        sources = [name(part) for part in left.split("&")]
        for target in (name(part) for part in right.split("&")):
            edges.update((source, target) for source in sources)
    return edges


def layer_problems(
    graph: Mapping[str, set[str]], picture: set[tuple[str, str]], leaves: frozenset[str] = LEAVES
) -> list[str]:
    """Where the code and the picture disagree. An import the picture does not draw is either
    upward (it would close a cycle) or undrawn; an arrow with no import behind it is stale."""
    problems = []
    code = {(source, target) for source, targets in graph.items() for target in targets}
    for source, target in sorted(code):
        if source in leaves:
            if target not in leaves:
                problems.append(f"leaf {source} imports {target}: a leaf imports only leaves")
        elif target not in leaves and (source, target) not in picture:
            upward = find_cycle(_with(picture, source, target)) is not None
            kind = "upward import" if upward else "import not in the picture"
            problems.append(f"{kind}: {source} -> {target}")
    problems.extend(f"stale arrow (no such import): {s} -> {t}" for s, t in sorted(picture - code))
    if (cycle := find_cycle(_with(picture))) is not None:
        problems.append(f"the picture has a cycle: {' -> '.join(cycle)}")
    return problems


def _with(edges: set[tuple[str, str]], *extra: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in [*edges, *([tuple(extra)] if extra else [])]:
        graph.setdefault(source, set()).add(target)
    return graph


# --- the checks on synthetic trees: each rule can fail ------------------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"pkg": root / "pkg"}


def test_find_cycle_finds_one_and_only_one_that_is_there() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize(
    "hidden_import",
    [
        "def later():\n    from pkg.upper import service\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.upper.service import X\n",
        "try:\n    from ..upper import service\nexcept ImportError:\n    pass\n",
    ],
    ids=["in-a-function", "type-checking", "relative-in-try"],
)
def test_a_planted_cycle_is_found_however_the_import_hides(tmp_path: Path, hidden_import: str) -> None:
    packages = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "upper/__init__.py": "",
            "upper/service.py": "from pkg.lower.models import Thing\n",
            "lower/__init__.py": "",
            "lower/models.py": hidden_import,
        },
    )
    graph, nodes = module_graph(packages, None)

    assert find_cycle(graph) is not None
    assert find_cycle(node_graph(graph, nodes)) == ["lower", "upper", "lower"]


def test_a_planted_upward_import_and_a_stale_arrow_are_reported(tmp_path: Path) -> None:
    packages = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "top.py": "from pkg import middle\n",
            "middle.py": "from pkg import errors\n\ndef f():\n    from pkg import top\n",
            "bottom.py": "",
        },
    )
    graph, nodes = module_graph(packages, None)
    picture = {("top", "middle"), ("middle", "bottom")}

    assert layer_problems(node_graph(graph, nodes), picture, frozenset({"pkg", "errors"})) == [
        "upward import: middle -> top",
        "stale arrow (no such import): middle -> bottom",
    ]


def test_a_leaf_that_imports_a_package_is_reported() -> None:
    graph = {"errors": {"queue"}, "queue": {"errors"}}

    assert layer_problems(graph, set(), frozenset({"errors"})) == [
        "leaf errors imports queue: a leaf imports only leaves"
    ]


def test_the_picture_is_read_with_labels_and_fans() -> None:
    doc = "## Which package imports which\n```mermaid\nflowchart TD\n    fn[functions/x] --> a & b\n    a --> b\n```\n"

    assert picture_edges(doc) == {("functions/x", "a"), ("functions/x", "b"), ("a", "b")}


# --- the checks on the shipped code ------------------------------------------------------------


def test_no_module_imports_itself_back_at_any_depth() -> None:
    graph, _ = module_graph()

    assert {"testgenie.queue.service", "testgenie_local.stack", "execute_app"} <= set(graph)
    assert find_cycle(graph) is None


def test_the_packages_import_one_way_as_the_architecture_doc_draws_them() -> None:
    graph, nodes = module_graph()
    folded = node_graph(graph, nodes)
    picture = picture_edges(ARCHITECTURE_DOC.read_text(encoding="utf-8"))

    assert {"runner", "local", "functions/runner", "orchestrator"} <= {
        node for edge in picture for node in edge
    }
    assert find_cycle(folded) is None
    problems = layer_problems(folded, picture)
    assert not problems, "\n".join(problems)


# --- short functions ---------------------------------------------------------------------------


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


def test_every_still_long_entry_is_still_long() -> None:
    """The allow-list only shrinks: an entry whose function is now short (or gone) must go."""
    found = {_key(entry) for root in SHORT_FUNCTION_ROOTS for entry in long_functions(REPO_ROOT / root)}

    assert STILL_LONG - found == set()


# --- the glossary ------------------------------------------------------------------------------

_GLOSSARY_ROW = re.compile(r"^\| (?P<name>[^|]+) \| [^|]+ \| `(?P<where>[^`]+)`")
_DEFINED = "(?:class|def) {name}\\b|^{name}(?:: [^=]+)? ="


def glossary(markdown: str) -> list[tuple[str, str]]:
    """(name, module) for each glossary row naming a code identifier in backticks."""
    section = markdown.split("## Glossary", 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[str, str]] = []
    for line in section.splitlines():
        match = _GLOSSARY_ROW.match(line)
        if match:
            names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", match["name"])
            rows.extend((name, match["where"]) for name in names[:1])
    return rows


def test_every_glossary_name_is_defined_where_the_glossary_says() -> None:
    rows = glossary(ARCHITECTURE_DOC.read_text(encoding="utf-8"))
    missing = [
        f"{name} in {where}"
        for name, where in rows
        if not re.search(
            _DEFINED.format(name=re.escape(name)),
            (PACKAGES["testgenie"] / where).read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    ]

    assert len(rows) >= 20
    assert missing == []
