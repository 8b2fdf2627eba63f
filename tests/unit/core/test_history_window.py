"""history/window.py and history/stats.py directly: the flaky rule (one source digest both passed
and failed; a run without a digest proves nothing), flip rate, percentiles and the window figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from testgenie.history.stats import scenario_stats
from testgenie.history.window import (
    SPARKLINE_RUNS,
    flaky_keys,
    flip_rate,
    newest_first,
    percentile,
    summary_entry,
    window_figures,
)

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_flaky_needs_one_digest_that_both_passed_and_failed() -> None:
    observations = [
        ("unit", "sha256:a", True),
        ("unit", "sha256:a", False),  # flaky: same source, both outcomes
        ("lint", "sha256:a", True),
        ("lint", "sha256:b", False),  # the source changed: a regression, not flakiness
        ("docs", "sha256:a", False),
        ("docs", "sha256:a", False),
    ]
    assert flaky_keys(observations) == {"unit"}


def test_runs_without_a_digest_are_never_flaky() -> None:
    """Nothing says two runs without a digest ran the same source."""
    assert flaky_keys([("unit", None, True), ("unit", None, False)]) == set()
    assert flaky_keys([("unit", None, True), ("unit", "sha256:a", False)]) == set()
    assert flaky_keys([("unit", None, True), ("unit", "sha256:a", False), ("unit", "sha256:a", True)]) == {
        "unit"
    }


def test_flip_rate_is_the_share_of_changing_neighbours() -> None:
    assert flip_rate([]) == 0.0
    assert flip_rate([True]) == 0.0
    assert flip_rate([True, True, True]) == 0.0
    assert flip_rate([True, False, True]) == 1.0
    assert flip_rate([True, True, False, False, True]) == pytest.approx(2 / 4)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, 0),
        ([7], 0.95, 7),
        ([4, 1, 3, 2], 0.5, 2),  # nearest rank: ceil(0.5 * 4) = 2nd
        ([5, 1, 4, 2, 3], 0.5, 3),
        (list(range(1, 101)), 0.95, 95),
        (list(range(1, 21)), 0.95, 19),
        ([10, 20], 0.01, 10),
    ],
)
def test_percentile_is_nearest_rank(values: list[int], fraction: float, expected: int) -> None:
    assert percentile(values, fraction) == expected


def _entry(n: int, outcome: str, ms: int, digest: str | None, **phases: str) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=n)).isoformat()
    return summary_entry(f"id-{n:03d}", at, outcome, ms, digest, phases.items())


def test_summary_entry_keeps_passed_and_failed_phases_only() -> None:
    entry = _entry(1, "failed", 900, "sha256:a", unit="failed", lint="passed", docs="skipped", api="passed")
    assert entry == {
        "id": "id-001",
        "at": (T0 + timedelta(minutes=1)).isoformat(),
        "outcome": "failed",
        "ms": 900,
        "digest": "sha256:a",
        "failed": ["unit"],
        "passed": ["api", "lint"],
    }


def test_newest_first_orders_by_time_then_id_drops_repeats_and_limits() -> None:
    a, b, c = _entry(1, "passed", 1, None), _entry(2, "passed", 1, None), _entry(2, "failed", 1, None)
    c["id"] = "id-zzz"  # same time as b: the id breaks the tie
    assert [e["id"] for e in newest_first([a, b, c, dict(b)])] == ["id-zzz", "id-002", "id-001"]
    assert [e["id"] for e in newest_first([a, b, c], limit=2)] == ["id-zzz", "id-002"]


def test_window_figures() -> None:
    entries = [
        _entry(1, "passed", 100, "sha256:a", unit="passed", lint="passed"),
        _entry(2, "failed", 300, "sha256:a", unit="failed", lint="passed"),  # unit flaky under a
        _entry(3, "failed", 200, None, lint="failed"),  # lint passed and failed, but not under one digest
        _entry(4, "passed", 400, None, lint="passed"),
        _entry(5, "errored", 500, "sha256:b", lint="failed"),
    ]
    figures = window_figures(newest_first(entries))
    assert figures.runs == 5
    assert figures.passed_runs == 2
    assert figures.pass_rate == pytest.approx(0.4)
    assert figures.median_duration_ms == 300
    assert figures.flaky_phases == 1
    assert figures.recent_outcomes == ["passed", "failed", "failed", "passed", "errored"]  # oldest first


def test_the_sparkline_keeps_the_newest_runs_oldest_first() -> None:
    entries = [_entry(n, "passed" if n % 2 else "failed", 1, None) for n in range(SPARKLINE_RUNS + 5)]
    figures = window_figures(newest_first(entries))
    assert figures.recent_outcomes == [e["outcome"] for e in entries[5:]]
    assert window_figures([]).pass_rate == 0.0


# -- scenario_stats (GET /scenarios/{name}/stats) over window rows, oldest run first ---------------


def _row(
    run: int,
    name: str | None,
    status: str | None,
    digest: str | None,
    *,
    ms: int = 100,
    outcome: str | None = None,
    failing: list[str] | None = None,
    classification: str | None = None,
) -> dict[str, Any]:
    return {
        "id": UUID(int=run),
        "completed_at": T0 + timedelta(hours=run * 10),
        "outcome": outcome or ("failed" if status == "failed" else "passed"),
        "name": name,
        "status": status,
        "duration_ms": ms,
        "classification": classification,
        "failing_tests": [{"name": t, "signature": f"AssertionError: {t}"} for t in failing or []],
        "source_digest": digest,
    }


def _phase(stats: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in stats["phases"] if p["name"] == name)
    return found


def test_stats_figures_per_phase() -> None:
    rows = [
        _row(1, "unit", "passed", "sha256:a", ms=100),
        _row(1, "lint", "passed", "sha256:a", ms=10),
        _row(2, "unit", "failed", "sha256:a", ms=300, failing=["t1"], classification="test_failure"),
        _row(2, "lint", "skipped", "sha256:a", ms=0, outcome="failed"),
        _row(3, "unit", "passed", "sha256:b", ms=200, outcome="failed"),
        _row(3, "lint", "failed", "sha256:b", ms=20, classification="misconfiguration"),
    ]
    stats = scenario_stats("web", 30, rows)
    unit, lint = _phase(stats, "unit"), _phase(stats, "lint")
    assert (stats["scenarioName"], stats["window"], stats["runs"]) == ("web", 30, 3)
    assert unit["runs"] == 3
    assert unit["passRate"] == pytest.approx(2 / 3)
    assert (unit["p50DurationMs"], unit["p95DurationMs"]) == (200, 300)
    assert unit["flipRate"] == 1.0
    assert unit["classifications"] == {"test_failure": 1}
    assert unit["lastFailure"] == {
        "executionId": str(UUID(int=2)),
        "completedAt": "2026-05-02T08:00:00.000000Z",
        "signature": "AssertionError: t1",
    }
    assert (unit["flaky"], unit["flakiness"]) == (True, pytest.approx(2 / 3))  # 2 of 3 runs under sha256:a
    assert lint["runs"] == 3  # a skipped run is a run of the phase, but neither passed nor failed
    assert lint["passRate"] == pytest.approx(1 / 2)
    assert (lint["flaky"], lint["flakiness"]) == (False, 0.0)
    assert stats["flakyTests"] == [{"phase": "unit", "name": "t1", "passed": 1, "failed": 1}]
    assert stats["days"] == [
        {"date": "2026-05-01", "runs": 1, "failures": 0},
        {"date": "2026-05-02", "runs": 2, "failures": 2},
    ]


def test_stats_of_runs_without_a_digest_show_no_flakiness() -> None:
    rows = [
        _row(1, "unit", "passed", None),
        _row(2, "unit", "failed", None, failing=["t1"]),
        _row(3, "unit", "passed", None),
    ]
    stats = scenario_stats("web", 30, rows)
    unit = _phase(stats, "unit")
    assert (unit["flaky"], unit["flakiness"], stats["flakyTests"]) == (False, 0.0, [])
    assert unit["flipRate"] == 1.0  # flips are counted whatever the digest


def test_stats_count_a_run_without_phases() -> None:
    stats = scenario_stats("web", 30, [_row(1, None, None, None, outcome="errored")])
    assert (stats["runs"], stats["phases"], stats["days"][0]["failures"]) == (1, [], 1)
