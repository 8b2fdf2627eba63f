"""SuiteExecutionRepository on a real PostgreSQL: the seed's semantics plus stable, indexed lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import pytest
from testgenie.db import Connection, Database
from testgenie.errors import NotFoundError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.filters import ExecutionFilter
from testgenie.history.repository import QUERIES as HISTORY_QUERIES
from testgenie.history.repository import HistoryRepository, executions_page_sql
from testgenie.history.service import ExecutionHistoryService
from testgenie.orchestrator.models import PhaseStatus
from testgenie.paging import Keyset, clamp_limit
from testgenie.queue.models import SuiteRequestFilter
from testgenie.queue.repository import suite_requests_page_sql
from testgenie.records import SuiteExecutionRecord, SuiteExecutionSummary

from benchmarks.history_data import generate_history, plan_nodes
from tests.support.records import make_record

repo = SuiteExecutionRepository()


def test_create_then_get_round_trips_every_field(db: Database) -> None:
    record = make_record(statuses=(PhaseStatus.PASSED, PhaseStatus.FAILED, PhaseStatus.SKIPPED))
    record = record.model_copy(
        update={"warnings": ["phase 'smoke' skipped"], "requested": {"preset": "quick"}}
    )
    db.run(lambda conn: repo.create(conn, record))

    loaded = db.run(lambda conn: repo.get_by_id(conn, record.id))

    assert loaded == record
    result = loaded.to_execution_result().to_json_dict()
    assert result["phaseSummary"] == {
        "total": 3,
        "passed": 1,
        "failed": 1,
        "skipped": 1,
        "durationSeconds": 3,
        "observationCount": 0,
    }
    assert result["warnings"] == ["phase 'smoke' skipped"]  # the seed lost warnings; we keep them
    assert result["preset"] == "quick"


def test_seed_phase_json_round_trip(db: Database) -> None:
    record = make_record(preset=None)
    db.run(lambda conn: repo.create(conn, record))
    raw = db.run(lambda conn: conn.execute("SELECT phases, preset_used FROM suite_executions").fetchone())

    assert raw is not None
    assert raw["phases"][0]["name"] == "phase0"
    assert raw["phases"][0]["status"] == "passed"
    assert raw["phases"][0]["durationSeconds"] == 1
    assert raw["preset_used"] is None  # an empty preset is stored as NULL, like the seed


def test_get_with_null_suite_request_and_missing_row(db: Database) -> None:
    record = make_record(suite_request_id=None)
    db.run(lambda conn: repo.create(conn, record))

    loaded = db.run(lambda conn: repo.get_by_id(conn, record.id))
    assert loaded is not None
    assert loaded.suite_request_id is None
    assert db.run(lambda conn: repo.get_by_id(conn, uuid4())) is None


def test_list_is_newest_first_with_exact_scenario_filter(db: Database) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        make_record("demo", base),
        make_record("other", base + timedelta(minutes=1)),
        make_record("demo", base + timedelta(minutes=2)),
        make_record("Demo", base + timedelta(minutes=3)),
    ]
    for record in records:
        db.run(partial(repo.create, record=record))

    all_items = _summaries(db, None, 50, 0)
    demo = _summaries(db, "demo", 5, 0)

    assert [i.execution_id for i in all_items] == [r.id for r in reversed(records)]
    assert [i.execution_id for i in demo] == [records[2].id, records[0].id]
    assert demo[0].phase_summary.passed == 1


@pytest.mark.parametrize(("limit", "offset", "expected"), [(0, 0, 50), (51, 0, 50), (-3, 0, 50), (5, -1, 5)])
def test_limit_default_and_max_50_offset_at_least_0(
    db: Database, limit: int, offset: int, expected: int
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    records = [make_record("demo", base + timedelta(seconds=i)) for i in range(55)]
    _store(db, records)

    page = _summaries(db, None, limit, offset)

    assert len(page) == expected
    assert page[0].execution_id == records[-1].id


def test_pagination_over_equal_completed_at_never_repeats_or_skips(db: Database) -> None:
    same = datetime(2026, 2, 2, tzinfo=UTC)
    records = [make_record("demo", same) for _ in range(23)]
    _store(db, records)

    for scenario in (None, "demo"):
        seen: list[UUID] = []
        for offset in range(0, 30, 5):
            seen.extend(i.execution_id for i in _summaries(db, scenario, 5, offset))
        assert len(seen) == 23
        assert set(seen) == {r.id for r in records}


def test_latest_overall_and_per_scenario(db: Database) -> None:
    with pytest.raises(NotFoundError):
        ExecutionHistoryService(db, HistoryRepository()).latest()
    base = datetime(2026, 3, 3, tzinfo=UTC)
    older = make_record("demo", base)
    newer = make_record("other", base + timedelta(seconds=1))
    for record in (older, newer):
        db.run(partial(repo.create, record=record))

    def latest(scenario: str | None = None) -> object:
        return json.loads(ExecutionHistoryService(db, HistoryRepository()).latest(scenario))

    assert latest() == newer.to_stored_execution().to_json_dict()
    assert latest("demo") == older.to_stored_execution().to_json_dict()
    with pytest.raises(NotFoundError):
        latest("missing")


def _store(db: Database, records: list[SuiteExecutionRecord]) -> None:
    def work(conn: Connection) -> None:
        for record in records:
            repo.create(conn, record)

    db.run(work)


def _summaries(db: Database, scenario: str | None, limit: int, offset: int) -> list[SuiteExecutionSummary]:
    keyset = Keyset(limit=clamp_limit(limit), offset=max(offset, 0))
    page = json.loads(
        ExecutionHistoryService(db, HistoryRepository()).list(ExecutionFilter(scenario=scenario), keyset)
    )
    return [SuiteExecutionSummary.model_validate(item) for item in page["items"]]


def _page(query: ExecutionFilter, offset: int = 0) -> tuple[str, Any]:
    return executions_page_sql(query, Keyset(offset=offset))


LIST_QUERIES: list[tuple[str, Any]] = [
    _page(ExecutionFilter()),
    _page(ExecutionFilter(scenario="scenario-0007"), 100),
    _page(ExecutionFilter(outcomes=("failed",))),
    _page(ExecutionFilter(outcomes=("failed", "errored", "timeout"))),
    _page(ExecutionFilter(scenario="scenario-0007", outcomes=("failed", "passed"))),
    _page(ExecutionFilter(phase="unit", phase_statuses=("failed",))),
    _page(ExecutionFilter(scenario="scenario-0007", phase="unit")),
    (HISTORY_QUERIES["latest_execution"], {}),
    (HISTORY_QUERIES["latest_execution_of_scenario"], {"scenario": "scenario-0007"}),
    suite_requests_page_sql(SuiteRequestFilter(), Keyset()),
    suite_requests_page_sql(SuiteRequestFilter(status="queued"), Keyset()),
]


def test_list_queries_use_an_index_and_never_sort(db: Database) -> None:
    db.run(lambda conn: generate_history(conn, 0, 20000, 20))
    db.run(
        lambda conn: conn.execute(
            "INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status, "
            "created_at) SELECT gen_random_uuid(), 's' || (g % 20), '{unit}', 95, 'normal', "
            "(ARRAY['queued','completed','failed'])[1 + g % 3], NOW() - make_interval(secs => g) "
            "FROM generate_series(1, 20000) g"
        )
    )
    db.run(lambda conn: conn.execute("ANALYZE suite_executions; ANALYZE suite_requests"))

    for query, params in LIST_QUERIES:
        nodes = db.run(partial(plan_nodes, sql=query, params=params))
        assert any("Index" in node for node in nodes), (query, nodes)
        assert "Sort" not in nodes, (query, nodes)
        assert "Seq Scan" not in nodes, (query, nodes)
