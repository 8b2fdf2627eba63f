"""A micro benchmark with a budget: 20,000 greetings must take less than a second."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hello import greet

BUDGET_SECONDS = 1.0


def main() -> int:
    started = time.perf_counter()
    for index in range(20_000):
        greet(f"user{index}")
    elapsed = time.perf_counter() - started
    print(f"20000 greetings in {elapsed * 1000:.1f} ms (budget {BUDGET_SECONDS * 1000:.0f} ms)")
    return 0 if elapsed < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
