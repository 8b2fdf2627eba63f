"""ExecutionHistoryService: list/get/latest on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from testgenie.db import Database
from testgenie.errors import NotFoundError
from testgenie.execution.history import ExecutionHistoryService
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.orchestrator.models import PhaseStatus
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.queue.service import SuiteRequestService

from tests.support import make_record


def test_list_computes_the_phase_summary_from_summary_columns(db: Database) -> None:
    record = make_record(statuses=(PhaseStatus.PASSED, PhaseStatus.PASSED, PhaseStatus.FAILED))
    db.run(lambda conn: SuiteExecutionRepository().create(conn, record))

    items = ExecutionHistoryService(db).list("demo", 5, 0)

    assert len(items) == 1
    assert items[0].phase_summary == record.to_execution_result().phase_summary
    assert items[0].phase_summary.passed == 2
    assert "phases" not in items[0].to_json_dict()


def test_get_round_trips_suite_request_id_and_preset(db: Database) -> None:
    request, _ = SuiteRequestService(db).queue(QueueSuiteRequestInput(scenario_name="demo"))
    record = make_record(suite_request_id=request.id, preset="comprehensive")
    db.run(lambda conn: SuiteExecutionRepository().create(conn, record))

    result = ExecutionHistoryService(db).get(record.id)

    assert result.suite_request_id == request.id
    assert result.preset == "comprehensive"
    assert result.to_json_dict()["suiteRequestId"] == str(request.id)


def test_get_unknown_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match="execution not found"):
        ExecutionHistoryService(db).get(uuid4())


def test_latest_raises_not_found_when_empty_and_answers_the_newest(db: Database) -> None:
    history = ExecutionHistoryService(db)
    with pytest.raises(NotFoundError, match="no execution recorded yet"):
        history.latest()
    base = datetime(2026, 5, 5, tzinfo=UTC)
    for offset in range(3):
        db.run(
            lambda conn, o=offset: SuiteExecutionRepository().create(
                conn, make_record("demo", base + timedelta(seconds=o))
            )
        )

    assert history.latest().completed_at == base + timedelta(seconds=2)
    with pytest.raises(NotFoundError, match="no execution of 'other' yet"):
        history.latest("other")
