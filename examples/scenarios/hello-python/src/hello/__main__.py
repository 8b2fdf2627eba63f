"""`python -m hello NAME...` prints one greeting per name."""

from __future__ import annotations

import sys

from hello import greet_all


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m hello NAME...", file=sys.stderr)
        return 2
    for line in greet_all(argv):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
