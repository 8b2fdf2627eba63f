"""Scenario health over a window of recent runs: pure functions shared by the recording path (the
scenario summary kept beside each execution) and the statistics route (docs/api.md: /scenarios).

*Flaky* means what the best tools mean: the same source digest both passed and failed a phase (or a
test) within the window. A run without a recorded digest proves nothing either way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

SUMMARY_WINDOW = 30
SPARKLINE_RUNS = 20

K = TypeVar("K", bound=Hashable)


def flaky_keys(observations: Iterable[tuple[K, str | None, bool]]) -> set[K]:
    """Keys (a phase, or a phase and test) seen both passing and failing under one source digest.

    Each observation is (key, digest, passed)."""
    seen: dict[tuple[K, str], int] = {}
    for key, digest, passed in observations:
        if digest is None:
            continue
        seen[(key, digest)] = seen.get((key, digest), 0) | (1 if passed else 2)
    return {key for (key, _), bits in seen.items() if bits == 3}


def flip_rate(statuses: Sequence[bool]) -> float:
    """Share of consecutive run pairs whose pass/fail differ (statuses in run order)."""
    if len(statuses) < 2:
        return 0.0
    flips = sum(1 for before, after in itertools.pairwise(statuses) if before != after)
    return flips / (len(statuses) - 1)


def percentile(values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile (p50 of [1, 2, 3, 4] is 2); 0 for no values."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary_entry(
    execution_id: str,
    completed_at: str,
    outcome: str,
    duration_ms: int,
    digest: str | None,
    phases: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """One run as the scenario summary keeps it; phases are (name, status)."""
    statuses = list(phases)
    return {
        "id": execution_id,
        "at": completed_at,
        "outcome": outcome,
        "ms": duration_ms,
        "digest": digest,
        "failed": sorted(name for name, status in statuses if status == "failed"),
        "passed": sorted(name for name, status in statuses if status == "passed"),
    }


def newest_first(entries: Iterable[dict[str, Any]], limit: int = SUMMARY_WINDOW) -> list[dict[str, Any]]:
    """The newest `limit` entries by (completed time, id): the order every history list uses."""
    unique = {entry["id"]: entry for entry in entries}
    return sorted(unique.values(), key=lambda e: (e["at"], e["id"]), reverse=True)[:limit]


@dataclass(frozen=True)
class WindowFigures:
    runs: int
    passed_runs: int
    median_duration_ms: int
    flaky_phases: int
    recent_outcomes: list[str]  # oldest first, for a sparkline

    @property
    def pass_rate(self) -> float:
        return self.passed_runs / self.runs if self.runs else 0.0


def window_figures(recent: Sequence[dict[str, Any]]) -> WindowFigures:
    """Figures of a newest-first window of summary entries."""
    observations = [
        (phase, entry["digest"], passed)
        for entry in recent
        for passed, names in ((True, entry["passed"]), (False, entry["failed"]))
        for phase in names
    ]
    return WindowFigures(
        runs=len(recent),
        passed_runs=sum(1 for entry in recent if entry["outcome"] == "passed"),
        median_duration_ms=percentile([int(entry["ms"]) for entry in recent], 0.5),
        flaky_phases=len(flaky_keys(observations)),
        recent_outcomes=[entry["outcome"] for entry in reversed(recent[:SPARKLINE_RUNS])],
    )
