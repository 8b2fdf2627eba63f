"""GET /scenarios/{name}/stats: per-phase figures and a per-day chart over a window of runs,
computed from the window's rows only (history/queries.sql: stats_window)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from testgenie.history.documents import timestamp
from testgenie.history.window import flaky_keys, flip_rate, percentile


@dataclass
class _PhaseRuns:
    statuses: list[bool] = field(default_factory=list)  # passed?, in run order (skipped runs left out)
    durations: list[int] = field(default_factory=list)
    classifications: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    last_failure: dict[str, Any] | None = None


def _phase_figures(name: str, runs: _PhaseRuns, flaky: set[str]) -> dict[str, Any]:
    decided = runs.statuses
    passed = sum(1 for ok in decided if ok)
    flips = flip_rate(decided)
    return {
        "name": name,
        "runs": runs.runs,
        "passRate": passed / len(decided) if decided else 0.0,
        "p50DurationMs": percentile(runs.durations, 0.5),
        "p95DurationMs": percentile(runs.durations, 0.95),
        "lastFailure": runs.last_failure,
        "classifications": dict(runs.classifications),
        "flaky": name in flaky,
        # Share of the window's runs of this phase made under a digest that both passed and failed it.
        "flakiness": 0.0,
        "flipRate": flips,
    }


def scenario_stats(scenario: str, window: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """rows: (execution, phase) pairs of the window, oldest run first."""
    phases: dict[str, _PhaseRuns] = defaultdict(_PhaseRuns)
    runs_seen: dict[Any, tuple[datetime, str]] = {}
    phase_observations: list[tuple[str, str | None, bool]] = []
    test_observations: list[tuple[tuple[str, str], str | None, bool]] = []
    phase_digests: dict[str, list[str | None]] = defaultdict(list)
    for row in rows:
        runs_seen[row["id"]] = (row["completed_at"], row["outcome"])
        if row["name"] is None:
            continue
        _add_phase_row(phases[row["name"]], row)
        if row["status"] == "skipped":
            continue
        passed = row["status"] == "passed"
        digest = row["source_digest"]
        phase_observations.append((row["name"], digest, passed))
        phase_digests[row["name"]].append(digest)
        failing = {test["name"] for test in row["failing_tests"] or []}
        test_observations.extend(((row["name"], test), digest, False) for test in failing)
        if passed:
            test_observations.append(((row["name"], "*"), digest, True))
    flaky = flaky_keys(phase_observations)
    figures = [_phase_figures(name, runs, flaky) for name, runs in phases.items()]
    for item in figures:
        item["flakiness"] = _flakiness(item["name"], phase_observations)
    return {
        "scenarioName": scenario,
        "window": window,
        "runs": len(runs_seen),
        "phases": figures,
        "flakyTests": _flaky_tests(test_observations),
        "days": _days(runs_seen.values()),
    }


def _add_phase_row(runs: _PhaseRuns, row: dict[str, Any]) -> None:
    runs.runs += 1
    if row["status"] != "skipped":
        runs.statuses.append(row["status"] == "passed")
        runs.durations.append(int(row["duration_ms"]))
    if row["classification"]:
        runs.classifications[row["classification"]] += 1
    if row["status"] == "failed":
        failing = row["failing_tests"] or []
        runs.last_failure = {
            "executionId": str(row["id"]),
            "completedAt": timestamp(row["completed_at"]),
            "signature": failing[0].get("signature") if failing else None,
        }


def _flakiness(phase: str, observations: list[tuple[str, str | None, bool]]) -> float:
    mine = [(digest, passed) for name, digest, passed in observations if name == phase]
    if not mine:
        return 0.0
    mixed = flaky_keys((digest, digest, passed) for digest, passed in mine)
    return sum(1 for digest, _ in mine if digest in mixed) / len(mine)


def _flaky_tests(observations: list[tuple[tuple[str, str], str | None, bool]]) -> list[dict[str, Any]]:
    """A test is flaky when, under one digest, it failed in some runs and its phase passed in others
    (a passing phase ran every test green; the runs record failing tests only)."""
    failed: Counter[tuple[str, str, str]] = Counter()
    passed_phase: Counter[tuple[str, str]] = Counter()
    for (phase, test), digest, ok in observations:
        if digest is None:
            continue
        if ok:
            passed_phase[(phase, digest)] += 1
        else:
            failed[(phase, test, digest)] += 1
    totals: dict[tuple[str, str], list[int]] = {}
    for (phase, test, digest), count in failed.items():
        if passed_phase[(phase, digest)]:
            pair = totals.setdefault((phase, test), [0, 0])
            pair[0] += passed_phase[(phase, digest)]
            pair[1] += count
    return [
        {"phase": phase, "name": test, "passed": counts[0], "failed": counts[1]}
        for (phase, test), counts in sorted(totals.items())
    ]


def _days(runs: Any) -> list[dict[str, Any]]:
    per_day: dict[str, list[int]] = {}
    for completed_at, outcome in runs:
        day = timestamp(completed_at)[:10]
        counts = per_day.setdefault(day, [0, 0])
        counts[0] += 1
        counts[1] += 0 if outcome == "passed" else 1
    return [{"date": day, "runs": c[0], "failures": c[1]} for day, c in sorted(per_day.items())]
