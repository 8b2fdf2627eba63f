"""Named SQL statements: each repository keeps its statements in a `queries.sql` beside it, one
`-- name: <statement>` block each, read once at import. A statement is reviewed as SQL and found by
its name with grep; the repository only binds parameters and reads columns by name.

`{{name}}` splices another block in (a column list shared by several statements); a block whose
name starts with `_` is such a fragment only, not a statement of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_SPLICE = re.compile(r"\{\{(\w+)\}\}")


def parse_queries(text: str, where: str = "<sql>") -> dict[str, str]:
    """{name: statement} of a queries file (comment lines dropped: a `%` in one would read as a
    parameter); a duplicate name or an unknown fragment is an error, not a silent override."""
    parts = _NAME.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"{where}: statement {name!r} is defined twice")
        lines = [line.rstrip() for line in body.splitlines() if not line.lstrip().startswith("--")]
        blocks[name] = "\n".join(line for line in lines if line).strip().rstrip(";")

    def splice(match: re.Match[str]) -> str:
        fragment = match.group(1)
        if fragment not in blocks:
            raise ValueError(f"{where}: unknown fragment {{{{{fragment}}}}}")
        return blocks[fragment]

    return {name: _SPLICE.sub(splice, sql) for name, sql in blocks.items() if not name.startswith("_")}


def load_queries(path: Path) -> Mapping[str, str]:
    """The statements of one queries file (call once, at import)."""
    return parse_queries(path.read_text(encoding="utf-8"), str(path))
