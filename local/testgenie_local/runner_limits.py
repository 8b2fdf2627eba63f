"""How many runner environments the local stack runs side by side (RUNNER_CONCURRENCY)."""

from __future__ import annotations

import os

DEFAULT_RUNNER_CONCURRENCY = 8


def runner_concurrency() -> int:
    """RUNNER_CONCURRENCY: how many runner environments run side by side (default 8: most suites wait
    more than they compute; set it to the cores for CPU-bound ones; docs/scenarios.md, "Shards")."""
    raw = os.environ.get("RUNNER_CONCURRENCY", "").strip()
    try:
        value = int(raw) if raw else DEFAULT_RUNNER_CONCURRENCY
    except ValueError:
        raise ValueError(f"RUNNER_CONCURRENCY must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"RUNNER_CONCURRENCY must be at least 1, not {value}")
    return value
