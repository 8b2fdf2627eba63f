"""ExecutionHistoryService and its JSON views on a real PostgreSQL: shapes equal the typed models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any
from uuid import uuid4

import pytest
from testgenie.db import Database
from testgenie.errors import NotFoundError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.filters import ExecutionFilter
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.orchestrator.models import (
    Observation,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionResult,
    TestCounts,
)
from testgenie.paging import Keyset
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.records import StoredExecution, SuiteExecutionRecord, SuiteExecutionSummary, Trigger

from tests.support.records import make_record
from tests.support.services import suite_requests


def _store(db: Database, *records: SuiteExecutionRecord) -> None:
    for record in records:
        db.run(partial(SuiteExecutionRepository().create, record=record))


def _rich_record(db: Database) -> SuiteExecutionRecord:
    """Every optional field set, odd microseconds, a non-UTC offset in, and skipped/failed phases."""
    request, _ = suite_requests(db).queue(QueueSuiteRequestInput(scenario_name="demo"))
    plus_two = timezone(timedelta(hours=2))
    phases = [
        PhaseResult(
            name="unit",
            status=PhaseStatus.FAILED,
            duration_seconds=2,
            duration_ms=1500,
            log_path="executions/x/unit.log",
            error="1 test failed",
            classification="test_failure",
            remediation="Fix it.",
            observations=[Observation(prefix="ERROR", text="test_x")],
            tests=TestCounts(total=3, passed=2, failed=1),
        ),
        PhaseResult(name="docs", status=PhaseStatus.SKIPPED),
    ]
    return SuiteExecutionRecord(
        id=uuid4(),
        suite_request_id=request.id,
        scenario_name="demo",
        preset="comprehensive",
        success=False,
        phases=phases,
        started_at=datetime(2026, 6, 1, 14, 0, 0, 123456, tzinfo=plus_two),
        completed_at=datetime(2026, 6, 1, 12, 0, 3, 7, tzinfo=UTC),
        outcome="failed",
        trigger=Trigger.SCHEDULE,
        warnings=["phase 'docs' is disabled"],
    )


def _minimal_record() -> SuiteExecutionRecord:
    now = datetime(2026, 6, 2, tzinfo=UTC)
    return SuiteExecutionRecord(
        id=uuid4(), scenario_name="bare", success=False, started_at=now, completed_at=now, outcome="errored"
    )


@pytest.mark.parametrize("kind", ["rich", "minimal"])
def test_views_equal_the_typed_models(db: Database, kind: str) -> None:
    record = _rich_record(db) if kind == "rich" else _minimal_record()
    _store(db, record)
    history = ExecutionHistoryService(db, HistoryRepository())
    expected_result = record.to_stored_execution().to_json_dict()

    got: dict[str, Any] = json.loads(history.get(record.id))
    page = json.loads(history.list())

    assert got == expected_result
    assert StoredExecution.model_validate(got).to_json_dict() == expected_result
    assert json.loads(history.latest()) == expected_result
    assert page["count"] == 1
    item = page["items"][0]
    summary = SuiteExecutionSummary.model_validate(item)
    assert summary.to_json_dict() == item  # no key the model does not know, none missing
    assert item["phaseSummary"] == expected_result["phaseSummary"]
    assert item["durationMs"] == record.duration_ms
    assert got["trigger"] == item["trigger"] == record.trigger.value  # the page and the list agree
    assert {k: v for k, v in item.items() if k not in ("trigger", "durationMs")} == {
        k: v for k, v in expected_result.items() if k not in ("phases", "warnings", "trigger")
    }


def test_timestamps_are_utc_with_microseconds(db: Database) -> None:
    record = _rich_record(db)
    _store(db, record)

    got = json.loads(ExecutionHistoryService(db, HistoryRepository()).get(record.id))

    assert got["startedAt"] == "2026-06-01T12:00:00.123456Z"
    assert got["completedAt"] == "2026-06-01T12:00:03.000007Z"


def test_list_is_a_page_with_count(db: Database) -> None:
    base = datetime(2026, 5, 5, tzinfo=UTC)
    records = [make_record("demo", base + timedelta(seconds=i)) for i in range(3)]
    _store(db, *records)

    page = json.loads(
        ExecutionHistoryService(db, HistoryRepository()).list(
            ExecutionFilter(scenario="demo"), Keyset(limit=2)
        )
    )

    assert page["count"] == 2
    assert [item["executionId"] for item in page["items"]] == [str(records[2].id), str(records[1].id)]
    assert "phases" not in page["items"][0]
    assert page["nextCursor"] is not None
    nobody = ExecutionHistoryService(db, HistoryRepository()).list(ExecutionFilter(scenario="nobody"))
    assert json.loads(nobody) == {"items": [], "count": 0, "nextCursor": None}


def test_get_round_trips_suite_request_id_and_preset(db: Database) -> None:
    request, _ = suite_requests(db).queue(QueueSuiteRequestInput(scenario_name="demo"))
    record = make_record(suite_request_id=request.id, preset="comprehensive")
    _store(db, record)

    result = SuiteExecutionResult.model_validate_json(
        ExecutionHistoryService(db, HistoryRepository()).get(record.id)
    )

    assert result.suite_request_id == request.id
    assert result.preset == "comprehensive"
    assert result.phase_summary.passed == 1


def test_get_unknown_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match="execution not found"):
        ExecutionHistoryService(db, HistoryRepository()).get(uuid4())


def test_latest_raises_not_found_when_empty_and_answers_the_newest(db: Database) -> None:
    history = ExecutionHistoryService(db, HistoryRepository())
    with pytest.raises(NotFoundError, match="no execution recorded yet"):
        history.latest()
    base = datetime(2026, 5, 5, tzinfo=UTC)
    _store(db, *(make_record("demo", base + timedelta(seconds=o)) for o in range(3)))

    assert json.loads(history.latest())["completedAt"] == "2026-05-05T00:00:02.000000Z"
    with pytest.raises(NotFoundError, match="no execution of 'other' yet"):
        history.latest("other")
