"""The tests share helpers through tests/support/ only: no module imports a conftest (pytest owns those)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import TESTS


def conftest_imports(root: Path) -> list[str]:
    """`file: module` for every import of a conftest module in the Python files under `root`."""
    found = []
    for path in sorted(p for p in root.rglob("*.py") if "scenarios" not in p.parts):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[-1] == "conftest"]
    return found


def test_no_test_module_imports_a_conftest() -> None:
    assert conftest_imports(TESTS) == []


def test_a_planted_conftest_import_is_found(tmp_path: Path) -> None:
    (tmp_path / "test_planted.py").write_text(
        "from tests.e2e.conftest import RunningStack\nimport tests.reliability.conftest\n"
    )
    assert conftest_imports(tmp_path) == [
        "test_planted.py: tests.e2e.conftest",
        "test_planted.py: tests.reliability.conftest",
    ]
