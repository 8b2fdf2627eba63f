"""Scenario summaries, statistics, flakiness and compare on a real PostgreSQL."""

from __future__ import annotations

import json
import math
import random
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from testgenie.db import Connection, Database
from testgenie.errors import NotFoundError, ValidationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.filters import SCENARIOS_CURSOR
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.paging import Keyset, parse_keyset
from testgenie.records import SuiteExecutionRecord

from tests.support.records import run_record

BASE = datetime(2026, 4, 1, tzinfo=UTC)


def _store(db: Database, records: list[SuiteExecutionRecord]) -> None:
    def work(conn: Connection) -> None:
        for record in records:
            SuiteExecutionRepository().create(conn, record)

    db.run(work)


def _from_scratch(
    records: list[SuiteExecutionRecord], scenario: str, *, none_is_a_digest: bool = False
) -> dict[str, Any]:
    """The summary recomputed from every run of the scenario, with no code of the service.
    `none_is_a_digest`: the wrong rule (runs without a digest as one source), to show the data tells
    the two apart."""
    mine = sorted((r for r in records if r.scenario_name == scenario), key=lambda r: (r.completed_at, r.id))
    window = mine[-30:]
    durations = sorted(r.duration_ms for r in window)
    seen: dict[tuple[str, str], set[str]] = {}
    for r in window:
        digest = r.source_digest if r.source_digest is not None or not none_is_a_digest else "(none)"
        for phase in r.phases:
            if digest is not None and phase.status.value in ("passed", "failed"):
                seen.setdefault((phase.name, digest), set()).add(phase.status.value)
    return {
        "lastExecution": str(mine[-1].id),
        "runs": len(window),
        "passRate": sum(r.outcome.value == "passed" for r in window) / len(window),
        "medianDurationMs": durations[math.ceil(len(durations) / 2) - 1],
        "recentOutcomes": [r.outcome.value for r in window[-20:]],
        "flakyPhases": len({name for (name, _), statuses in seen.items() if len(statuses) == 2}),
    }


# Each phase fails at its own rate (never, rarely, often, always), and digests come from a pool with
# many runs without one: so the flaky count is neither 0 nor every phase, and it differs between the
# right rule and one that counts runs without a digest (the test checks that it does).
FAIL_RATES = {"lint": 0.0, "unit": 0.08, "docs": 0.5, "api": 0.25, "e2e": 1.0}
DIGESTS: list[str | None] = [f"sha256:{n}" for n in range(8)] + [None] * 5


def _random_runs(rng: random.Random, count: int) -> list[SuiteExecutionRecord]:
    runs = []
    for _ in range(count):
        phases = {
            name: "skipped" if rng.random() < 0.15 else "failed" if rng.random() < rate else "passed"
            for name, rate in FAIL_RATES.items()
        }
        runs.append(
            run_record(
                rng.choice(["s1", "s2", "s3"]),
                BASE + timedelta(seconds=rng.randint(0, 400)),  # out of order, and some equal times
                phases,
                digest=rng.choice(DIGESTS),
                duration_ms=rng.randint(100, 9000),
            )
        )
    return runs


@pytest.mark.parametrize("seed", [3, 17, 2026])
def test_the_summary_equals_an_aggregate_recomputed_from_scratch(
    db: Database, database_url: str, seed: int
) -> None:
    rng = random.Random(seed)
    runs = _random_runs(rng, 150)
    halves = [runs[0::2], runs[1::2]]

    def record(part: list[SuiteExecutionRecord]) -> None:  # two recorders at once, one run per transaction
        writer = Database(database_url)
        for run in part:
            writer.run(partial(SuiteExecutionRepository().create, record=run))
        writer.close()

    threads = [threading.Thread(target=record, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)  # well inside pytest-timeout: a stuck recorder fails here, named
    assert [t.is_alive() for t in threads] == [False, False], "a recorder did not finish"

    page = json.loads(ExecutionHistoryService(db, HistoryRepository()).scenarios())
    got = {item["scenarioName"]: item for item in page["items"]}
    assert set(got) == {r.scenario_name for r in runs}
    for scenario, item in got.items():
        expected = _from_scratch(runs, scenario)
        assert item["lastExecution"]["executionId"] == expected.pop("lastExecution")
        assert {key: item[key] for key in expected} == expected, scenario
    # The data can fail a wrong flaky rule: some scenario's count is neither 0 nor every phase, and
    # some scenario's count differs when runs without a digest are counted as one source.
    counts = [_from_scratch(runs, s)["flakyPhases"] for s in got]
    assert any(0 < n < len(FAIL_RATES) for n in counts), counts
    assert counts != [_from_scratch(runs, s, none_is_a_digest=True)["flakyPhases"] for s in got]
    times = [item["lastExecution"]["completedAt"] for item in page["items"]]
    assert times == sorted(times, reverse=True)  # newest activity first


def test_rebuild_equals_the_incremental_summary(db: Database) -> None:
    runs = _random_runs(random.Random(8), 80)
    _store(db, runs)
    before = json.loads(ExecutionHistoryService(db, HistoryRepository()).scenarios())
    for scenario in ("s1", "s2", "s3"):
        db.run(partial(SuiteExecutionRepository().rebuild_summary, scenario=scenario))
    assert json.loads(ExecutionHistoryService(db, HistoryRepository()).scenarios()) == before


def test_scenarios_page_with_a_cursor(db: Database) -> None:
    _store(db, [run_record(f"sc{i}", BASE + timedelta(minutes=i), {"unit": "passed"}) for i in range(5)])
    history = ExecutionHistoryService(db, HistoryRepository())
    first = json.loads(history.scenarios(Keyset(limit=3)))
    rest = json.loads(history.scenarios(parse_keyset(SCENARIOS_CURSOR, 3, 0, first["nextCursor"])))
    names = [item["scenarioName"] for item in [*first["items"], *rest["items"]]]
    assert names == ["sc4", "sc3", "sc2", "sc1", "sc0"]
    assert rest["nextCursor"] is None


def test_same_digest_passing_and_failing_is_flaky(db: Database) -> None:
    runs = [
        run_record(
            "crafted", BASE + timedelta(minutes=1), {"unit": "passed", "lint": "passed"}, digest="sha256:x"
        ),
        run_record(
            "crafted",
            BASE + timedelta(minutes=2),
            {"unit": "failed", "lint": "passed"},
            digest="sha256:x",
            failing={"unit": ["tests/test_a.py::test_race"]},
        ),
        run_record(
            "crafted", BASE + timedelta(minutes=3), {"unit": "passed", "lint": "passed"}, digest="sha256:x"
        ),
    ]
    _store(db, runs)

    stats = ExecutionHistoryService(db, HistoryRepository()).stats("crafted")
    unit = next(p for p in stats["phases"] if p["name"] == "unit")
    lint = next(p for p in stats["phases"] if p["name"] == "lint")

    assert (unit["flaky"], lint["flaky"]) == (True, False)
    assert unit["flakiness"] == 1.0
    assert unit["flipRate"] == 1.0  # passed -> failed -> passed
    assert stats["flakyTests"] == [
        {"phase": "unit", "name": "tests/test_a.py::test_race", "passed": 2, "failed": 1}
    ]
    assert (
        json.loads(ExecutionHistoryService(db, HistoryRepository()).scenarios())["items"][0]["flakyPhases"]
        == 1
    )


def test_a_failure_after_a_digest_change_is_not_flaky(db: Database) -> None:
    runs = [
        run_record("regressed", BASE + timedelta(minutes=1), {"unit": "passed"}, digest="sha256:old"),
        run_record("regressed", BASE + timedelta(minutes=2), {"unit": "passed"}, digest="sha256:old"),
        run_record(
            "regressed",
            BASE + timedelta(minutes=3),
            {"unit": "failed"},
            digest="sha256:new",
            failing={"unit": ["tests/test_b.py::test_new_bug"]},
        ),
    ]
    _store(db, runs)

    stats = ExecutionHistoryService(db, HistoryRepository()).stats("regressed")
    unit = stats["phases"][0]

    assert (unit["flaky"], unit["flakiness"], stats["flakyTests"]) == (False, 0.0, [])
    assert unit["flipRate"] == 0.5  # reported beside flakiness, not instead of it
    assert (
        json.loads(ExecutionHistoryService(db, HistoryRepository()).scenarios())["items"][0]["flakyPhases"]
        == 0
    )


def test_stats_figures_over_the_window(db: Database) -> None:
    runs = [
        run_record(
            "figures",
            BASE + timedelta(days=i // 2, minutes=i),
            {"unit": "failed" if i in (1, 4) else "passed", "docs": "skipped"},
            failing={"unit": [f"t{i}"]} if i in (1, 4) else None,
        )
        for i in range(6)
    ]
    _store(db, runs)

    stats = ExecutionHistoryService(db, HistoryRepository()).stats(
        "figures", window=5
    )  # the newest five: runs 1..5

    assert stats["runs"] == 5
    unit = next(p for p in stats["phases"] if p["name"] == "unit")
    docs = next(p for p in stats["phases"] if p["name"] == "docs")
    assert unit["runs"] == 5
    assert unit["passRate"] == pytest.approx(3 / 5)
    assert (unit["p50DurationMs"], unit["p95DurationMs"]) == (100, 100)
    assert unit["classifications"] == {"test_failure": 2}
    assert unit["lastFailure"] == {
        "executionId": str(runs[4].id),
        "completedAt": runs[4].completed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "signature": "AssertionError: t4",
        "error": None,
    }
    assert (docs["runs"], docs["passRate"], docs["lastFailure"]) == (5, 0.0, None)
    assert stats["days"] == [
        {"date": "2026-04-01", "runs": 1, "failures": 1},
        {"date": "2026-04-02", "runs": 2, "failures": 0},
        {"date": "2026-04-03", "runs": 2, "failures": 1},
    ]


def test_stats_of_an_unknown_scenario_and_a_bad_window(db: Database) -> None:
    with pytest.raises(NotFoundError):
        ExecutionHistoryService(db, HistoryRepository()).stats("nobody")
    with pytest.raises(ValidationError, match="window must be 1 to 500"):
        ExecutionHistoryService(db, HistoryRepository()).stats("nobody", window=0)


def test_compare_with_previous_and_with_an_id(db: Database) -> None:
    older = run_record(
        "cmp",
        BASE,
        {"lint": "passed", "unit": "failed", "docs": "passed"},
        digest="sha256:1",
        failing={"unit": ["t_fixed", "t_still"]},
    )
    newer = run_record(
        "cmp",
        BASE + timedelta(minutes=5),
        {"lint": "failed", "unit": "failed", "smoke": "passed"},
        digest="sha256:2",
        failing={"unit": ["t_still", "t_new"], "lint": ["ruff"]},
    )
    _store(db, [older, newer])
    history = ExecutionHistoryService(db, HistoryRepository())

    diff = history.compare(newer.id, None)

    assert diff == history.compare(newer.id, older.id)
    assert (diff["executionId"], diff["baseExecutionId"]) == (str(newer.id), str(older.id))
    assert diff["sourceDigestChanged"] is True
    phases = {p["name"]: p for p in diff["phases"]}
    assert phases["lint"] == {
        "name": "lint",
        "before": "passed",
        "after": "failed",
        "changed": True,
        "durationMsBefore": 100,
        "durationMsAfter": 100,
        "durationMsDelta": 0,
    }
    assert (phases["unit"]["changed"], phases["smoke"]["before"], phases["docs"]["after"]) == (
        False,
        None,
        None,
    )
    assert sorted((t["phase"], t["name"]) for t in diff["newlyFailingTests"]) == [
        ("lint", "ruff"),
        ("unit", "t_new"),
    ]
    assert diff["newlyFixedTests"] == [{"phase": "unit", "name": "t_fixed"}]
    with pytest.raises(NotFoundError, match="no previous execution"):
        history.compare(older.id, None)
    with pytest.raises(NotFoundError, match="execution not found"):
        history.compare(run_record("x", BASE, {}).id, older.id)


def test_a_phase_that_failed_without_a_failing_test_names_its_error(db: Database) -> None:
    failed = run_record(
        "standards-only",
        BASE + timedelta(minutes=2),
        {"standards": "failed", "unit": "passed"},
        errors={"standards": "command `ruff check .` exited with 1"},
    )
    _store(db, [run_record("standards-only", BASE, {"standards": "failed", "unit": "passed"}), failed])

    stats = ExecutionHistoryService(db, HistoryRepository()).stats("standards-only")
    standards = next(p for p in stats["phases"] if p["name"] == "standards")

    assert standards["lastFailure"] == {
        "executionId": str(failed.id),
        "completedAt": failed.completed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "signature": None,
        "error": "command `ruff check .` exited with 1",
    }
    assert next(p for p in stats["phases"] if p["name"] == "unit")["lastFailure"] is None
