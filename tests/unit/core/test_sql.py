"""Named statements (testgenie/sql.py): each repository's SQL is in a queries.sql beside it, every
name a repository asks for exists, every statement is asked for, and no row is read by position."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from testgenie.sql import parse_queries

CORE = Path(__file__).resolve().parents[3] / "layers" / "core" / "testgenie"


def test_blocks_are_named_statements_with_fragments_spliced_in() -> None:
    text = """-- the file's header comment
-- name: _columns
a, b
-- name: pick
-- what it does (a comment line with 100% in it is dropped)
SELECT {{_columns}} FROM t
WHERE a = %(a)s;
"""
    assert parse_queries(text) == {"pick": "SELECT a, b FROM t\nWHERE a = %(a)s"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n", "defined twice"),
        ("-- name: a\nSELECT {{_missing}}\n", "unknown fragment"),
    ],
)
def test_a_duplicate_name_or_an_unknown_fragment_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queries(text)


def _asked_for(module: Path) -> set[str]:
    """Every QUERIES["name"] a module reads."""
    names = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "QUERIES"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(str(node.slice.value))
    return names


QUERY_FILES = sorted(CORE.rglob("queries.sql"))


@pytest.mark.parametrize("queries", QUERY_FILES, ids=lambda path: path.parent.name)
def test_every_statement_is_used_and_every_name_used_exists(queries: Path) -> None:
    statements = set(parse_queries(queries.read_text(encoding="utf-8"), str(queries)))
    asked = set().union(*(_asked_for(module) for module in queries.parent.glob("*.py")))
    # where_* blocks are picked by name from a table (queue/repository.py: _FILTERS)
    picked = {name for name in statements if name.startswith("where_")}
    blocks_for_builders = {"summary_columns", "request_columns", "result_columns", "scenario_columns"}

    assert asked - statements == set()
    assert statements - asked - picked - blocks_for_builders == set()


def test_the_repositories_keep_their_sql_in_queries_files() -> None:
    """Every statement a repository executes is QUERIES["name"], or (the pages) a name bound from
    a builder that composes queries.sql's blocks; never a string written in Python."""
    repositories = sorted(CORE.rglob("repository.py"))
    inline = [
        f"{path.relative_to(CORE)}:{node.lineno}"
        for path in repositories
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "execute"
        and node.args
        and not isinstance(node.args[0], ast.Subscript | ast.Name)
    ]
    assert {path.parent.name for path in QUERY_FILES} >= {"queue", "history", "execution", "shards"}
    assert {path.parent for path in repositories} <= {path.parent for path in QUERY_FILES}
    assert inline == []


_POSITIONAL_ROW = re.compile(r"\b(row|rows|page\[-1\]|r)\[-?\d+\]")


def test_no_row_is_read_by_position() -> None:
    found = [
        f"{path.relative_to(CORE)}:{number}: {line.strip()}"
        for path in sorted(CORE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _POSITIONAL_ROW.search(line)
    ]
    assert found == []
