"""House rule of this scenario: every Python module starts with a docstring."""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def main() -> int:
    missing = [
        str(path)
        for folder in ("src", "tests", "scripts")
        for path in sorted(Path(folder).rglob("*.py"))
        if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None
    ]
    for path in missing:
        print(f"{path}: module docstring missing")
    print(f"standards: {len(missing)} problems")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
