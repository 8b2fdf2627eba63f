"""SuiteExecutionService with a fake engine on a real PostgreSQL: the seed flow and DESIGN §2's fixes."""

from __future__ import annotations

import time
from uuid import UUID, uuid4

import pytest
from testgenie.db import Database
from testgenie.errors import ConflictError, NotFoundError, ValidationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.service import SuiteExecutionInput, SuiteExecutionService
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.orchestrator.models import Outcome, SuiteExecutionResult, SuitePlan
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.queue.service import SuiteRequestService
from testgenie.records import Trigger

from tests.support.engine import FakeEngine
from tests.support.services import suite_requests


@pytest.fixture
def requests(db: Database) -> SuiteRequestService:
    return suite_requests(db, lease_seconds=60, max_attempts=3)


def _service(
    db: Database, requests: SuiteRequestService, engine: FakeEngine | None = None
) -> SuiteExecutionService:
    return SuiteExecutionService(engine or FakeEngine(), db, requests, SuiteExecutionRepository())


def _queue(requests: SuiteRequestService, scenario: str = "test-genie", **fields: object) -> UUID:
    request, _ = requests.queue(QueueSuiteRequestInput.model_validate({"scenarioName": scenario, **fields}))
    return request.id


def _count(db: Database) -> int:
    return db.run(lambda conn: SuiteExecutionRepository().count(conn))


def test_execute_without_a_linked_request_records_one_row(
    db: Database, requests: SuiteRequestService
) -> None:
    result = _service(db, requests).execute(SuiteExecutionInput(SuitePlan(scenario_name="demo")))

    assert result.execution_id != UUID(int=0)
    assert result.suite_request_id is None
    assert (result.success, result.outcome) == (True, Outcome.PASSED)
    assert _count(db) == 1
    stored = SuiteExecutionResult.model_validate_json(
        ExecutionHistoryService(db, HistoryRepository()).get(result.execution_id)
    )
    assert stored.phases == result.phases
    assert stored.phase_summary.passed == 5


def test_mismatched_scenario_is_a_validation_error_and_touches_nothing(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests, "ecosystem-manager")

    with pytest.raises(ValidationError, match="suiteRequestId does not match scenarioName"):
        _service(db, requests).execute(
            SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), suite_request_id=request_id)
        )

    assert requests.get(request_id).status == SuiteRequestStatus.QUEUED
    assert requests.get(request_id).attempts == 0
    assert _count(db) == 0


def test_scenario_match_is_case_insensitive(db: Database, requests: SuiteRequestService) -> None:
    request_id = _queue(requests, "Test-Genie")

    result = _service(db, requests).execute(
        SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), suite_request_id=request_id)
    )

    assert result.suite_request_id == request_id
    finished = requests.get(request_id)
    assert (finished.status, finished.execution_id) == (SuiteRequestStatus.COMPLETED, result.execution_id)


def test_an_invalid_plan_is_rejected_before_the_claim(db: Database, requests: SuiteRequestService) -> None:
    request_id = _queue(requests)

    with pytest.raises(ValidationError, match="queued with the default plan, not phases e2e"):
        _service(db, requests).execute(
            SuiteExecutionInput(
                SuitePlan(scenario_name="test-genie", phases=["e2e"]), suite_request_id=request_id
            )
        )

    assert requests.get(request_id).status == SuiteRequestStatus.QUEUED  # a 400 never flips it to failed
    assert _count(db) == 0


def test_unknown_suite_request_is_not_found(db: Database, requests: SuiteRequestService) -> None:
    with pytest.raises(NotFoundError, match="suite request not found"):
        _service(db, requests).execute(
            SuiteExecutionInput(SuitePlan(scenario_name="demo"), suite_request_id=uuid4())
        )


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "running"])
def test_a_request_that_is_not_claimable_is_a_conflict(
    db: Database, requests: SuiteRequestService, status: str
) -> None:
    request_id = _queue(requests)
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET status = %s, lease_expires_at = NOW() WHERE id = %s",
            (status, request_id),
        )
    )

    with pytest.raises(ConflictError, match=f"suite request is {status} and cannot be claimed"):
        _service(db, requests).execute(
            SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), suite_request_id=request_id)
        )
    assert requests.get(request_id).status == status
    assert _count(db) == 0


def test_a_failed_phase_fails_the_request_and_still_returns_the_result(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests, failFast=True)
    engine = FakeEngine(failing={"docs"})

    result = _service(db, requests, engine).execute(
        SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), request_id)
    )

    assert (result.success, result.outcome) == (False, Outcome.FAILED)
    assert [p.name for p in result.phases] == ["structure", "standards", "docs"]
    failed = requests.get(request_id)
    assert failed.status == SuiteRequestStatus.FAILED
    assert failed.reason == "phases failed: docs"  # the reason is on the request, not only the execution


def test_a_linked_run_runs_the_stored_plan_and_refuses_another(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests, phases=["structure", "docs"])
    service = _service(db, requests)

    with pytest.raises(ValidationError, match="queued with phases structure, docs, not phases structure;"):
        service.execute(
            SuiteExecutionInput(SuitePlan(scenario_name="test-genie", phases=["structure"]), request_id)
        )
    assert requests.get(request_id).status == SuiteRequestStatus.QUEUED

    result = service.execute(SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), request_id))

    assert [p.name for p in result.phases] == ["structure", "docs"]


def test_an_engine_crash_leaves_an_errored_row_and_a_failed_request(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests)
    engine = FakeEngine(crash=RuntimeError("runner exploded"))

    result = _service(db, requests, engine).execute(
        SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), request_id)
    )

    assert result.outcome == Outcome.ERRORED
    assert result.warnings == ["execution errored: runner exploded"]
    assert [p.name for p in result.phases] == ["structure"]  # what finished before the crash is kept
    stored = requests.get(request_id)
    assert (stored.status, stored.execution_id) == (SuiteRequestStatus.FAILED, result.execution_id)
    assert (
        SuiteExecutionResult.model_validate_json(
            ExecutionHistoryService(db, HistoryRepository()).get(result.execution_id)
        ).outcome
        == Outcome.ERRORED
    )


def test_the_execution_id_exists_before_phases_start(db: Database, requests: SuiteRequestService) -> None:
    engine = FakeEngine()
    result = _service(db, requests, engine).execute(SuiteExecutionInput(SuitePlan(scenario_name="d")))

    assert engine.executed == [result.execution_id]
    assert all(p.log_path == f"executions/{result.execution_id}/{p.name}.log" for p in result.phases)


def test_progress_is_recorded_while_running(db: Database, requests: SuiteRequestService) -> None:
    request_id = _queue(requests)
    snapshots: list[dict[str, object] | None] = []
    engine = FakeEngine(before_phase=lambda name: snapshots.append(requests.get(request_id).progress))

    _service(db, requests, engine).execute(
        SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), request_id)
    )

    assert snapshots[0] is None
    assert snapshots[2] == {
        "totalPhases": 5,
        "completedPhases": 2,
        "currentPhase": "docs",
        "phases": [
            {"name": "structure", "status": "passed", "durationMs": 5},
            {"name": "standards", "status": "passed", "durationMs": 5},
        ],
    }


def test_cancel_while_running_stops_after_the_current_phase(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests)

    def cancel_during_docs(name: str) -> None:
        if name == "docs":
            requests.cancel(request_id)

    result = _service(db, requests, FakeEngine(before_phase=cancel_during_docs)).execute(
        SuiteExecutionInput(SuitePlan(scenario_name="test-genie"), request_id)
    )

    assert result.outcome == Outcome.CANCELLED
    assert [p.name for p in result.phases] == ["structure", "standards", "docs"]
    assert requests.get(request_id).status == SuiteRequestStatus.CANCELLED


def test_execute_queued_runs_the_stored_plan_once(db: Database, requests: SuiteRequestService) -> None:
    request_id = _queue(requests, phases=["unit", "docs"], failFast=True)
    service = _service(db, requests)

    first = service.execute_queued(request_id)
    duplicate = service.execute_queued(request_id)

    assert first is not None
    assert [p.name for p in first.phases] == ["unit", "docs"]
    assert duplicate is None
    assert _count(db) == 1
    record = db.run(lambda conn: SuiteExecutionRepository().get_by_request(conn, request_id))
    assert record is not None
    assert record.requested == {"preset": None, "phases": ["unit", "docs"], "skip": None, "failFast": True}
    assert record.trigger == Trigger.API


def test_execute_queued_with_an_invalid_stored_plan_fails_with_a_reason(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests, phases=["nonsense"])

    result = _service(db, requests).execute_queued(request_id)

    assert result is not None
    assert result.outcome == Outcome.ERRORED
    assert result.warnings == ["invalid plan: phase 'nonsense' is not defined"]
    assert requests.get(request_id).status == SuiteRequestStatus.FAILED


def test_execute_queued_of_unknown_request_is_none(db: Database, requests: SuiteRequestService) -> None:
    assert _service(db, requests).execute_queued(uuid4()) is None


def test_a_run_past_its_deadline_ends_as_timeout_and_is_still_recorded(
    db: Database, requests: SuiteRequestService
) -> None:
    request_id = _queue(requests)
    engine = FakeEngine()

    result = _service(db, requests, engine).execute_queued(request_id, deadline=time.monotonic() - 1)

    assert result is not None
    assert (result.outcome, result.phases) == (Outcome.TIMEOUT, [])
    stored = requests.get(request_id)
    assert (stored.status, stored.execution_id) == (SuiteRequestStatus.FAILED, result.execution_id)
