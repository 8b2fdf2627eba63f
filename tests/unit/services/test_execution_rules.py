"""SuiteExecutionService's rules on the in-memory fakes: linking, claiming, recording, and a run that
crashes, is cancelled or runs out of time. No database."""

from __future__ import annotations

import time
from uuid import UUID, uuid4

import pytest
from testgenie.bootstrap import Services
from testgenie.errors import ConflictError, NotFoundError, ValidationError
from testgenie.execution.service import SuiteExecutionInput
from testgenie.orchestrator.models import Outcome, PhaseStatus, SuitePlan
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.records import Trigger

from tests.support.engine import FakeEngine
from tests.support.fakes import MemoryPorts, memory_ports, memory_services

pytestmark = pytest.mark.nodb


@pytest.fixture
def ports() -> MemoryPorts:
    return memory_ports()


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def services(ports: MemoryPorts, engine: FakeEngine) -> Services:
    return memory_services(ports, engine=engine, lease_seconds=60, max_attempts=3)


def _queue(services: Services, scenario: str = "demo", **fields: object) -> UUID:
    payload = QueueSuiteRequestInput.model_validate({"scenarioName": scenario, **fields})
    return services.suite_requests.queue(payload, Trigger.QUEUE)[0].id


def _run(services: Services, scenario: str = "demo", linked: UUID | None = None, **plan: object) -> object:
    request = SuitePlan.model_validate({"scenarioName": scenario, **plan})
    return services.execution.execute(SuiteExecutionInput(request, suite_request_id=linked))


def test_an_unlinked_run_records_one_execution(services: Services, ports: MemoryPorts) -> None:
    result = services.execution.execute(SuiteExecutionInput(SuitePlan(scenario_name="demo")))
    assert (result.success, result.outcome, result.suite_request_id) == (True, Outcome.PASSED, None)
    stored = ports.execution_store.get_by_id(None, result.execution_id)
    assert stored is not None
    assert (stored.trigger, len(stored.phases), stored.success) == (Trigger.API, 5, True)


def test_a_failing_phase_is_a_failed_execution_not_an_error(
    services: Services, engine: FakeEngine, ports: MemoryPorts
) -> None:
    engine.failing = {"docs"}
    result = services.execution.execute(SuiteExecutionInput(SuitePlan(scenario_name="demo")))
    assert (result.success, result.outcome) == (False, Outcome.FAILED)
    assert [p.name for p in result.phases if p.status is PhaseStatus.FAILED] == ["docs"]
    assert ports.execution_store.count() == 1


def test_a_linked_run_claims_finishes_and_links_the_request(services: Services, ports: MemoryPorts) -> None:
    request_id = _queue(services, "Demo")
    result = services.execution.execute(
        SuiteExecutionInput(SuitePlan(scenario_name="demo"), suite_request_id=request_id)
    )
    stored = services.suite_requests.get(request_id)
    assert (stored.status, stored.execution_id, stored.attempts) == (
        SuiteRequestStatus.COMPLETED,
        result.execution_id,
        1,
    )
    assert stored.progress is not None
    assert stored.progress["completedPhases"] == 5


def test_a_linked_run_of_another_scenario_is_refused_and_touches_nothing(
    services: Services, ports: MemoryPorts
) -> None:
    request_id = _queue(services, "ecosystem-manager")
    with pytest.raises(ValidationError, match="suiteRequestId does not match scenarioName"):
        services.execution.execute(
            SuiteExecutionInput(SuitePlan(scenario_name="demo"), suite_request_id=request_id)
        )
    assert services.suite_requests.get(request_id).attempts == 0
    assert ports.execution_store.count() == 0


def test_a_linked_run_that_names_another_plan_is_refused_before_the_claim(services: Services) -> None:
    request_id = _queue(services, preset="quick")
    with pytest.raises(ValidationError, match="queued with preset 'quick', not phases unit"):
        services.execution.execute(
            SuiteExecutionInput(SuitePlan(scenario_name="demo", phases=["unit"]), suite_request_id=request_id)
        )
    assert services.suite_requests.get(request_id).status is SuiteRequestStatus.QUEUED


def test_a_linked_run_of_an_unknown_request_is_not_found(services: Services) -> None:
    with pytest.raises(NotFoundError, match="suite request not found"):
        services.execution.execute(
            SuiteExecutionInput(SuitePlan(scenario_name="demo"), suite_request_id=uuid4())
        )


def test_a_linked_run_of_a_running_request_is_a_conflict(services: Services, ports: MemoryPorts) -> None:
    request_id = _queue(services)
    assert services.suite_requests.claim(request_id) is not None
    with pytest.raises(ConflictError, match="suite request is running and cannot be claimed"):
        services.execution.execute(
            SuiteExecutionInput(SuitePlan(scenario_name="demo"), suite_request_id=request_id)
        )
    assert ports.execution_store.count() == 0


def test_a_queued_request_runs_its_stored_plan_with_its_trigger(
    services: Services, engine: FakeEngine, ports: MemoryPorts
) -> None:
    request_id = _queue(services, phases=["unit", "docs"])
    result = services.execution.execute_queued(request_id)
    assert result is not None
    assert [p.name for p in result.phases] == ["unit", "docs"]
    record = ports.execution_store.get_by_request(None, request_id)
    assert record is not None
    assert record.trigger is Trigger.QUEUE
    assert record.requested is not None
    assert record.requested["phases"] == ["unit", "docs"]


def test_a_duplicate_or_stale_delivery_runs_nothing(services: Services, engine: FakeEngine) -> None:
    request_id = _queue(services)
    assert services.execution.execute_queued(request_id) is not None
    assert services.execution.execute_queued(request_id) is None  # already completed
    assert services.execution.execute_queued(uuid4()) is None  # unknown
    assert len(engine.executed) == 1


def test_a_stored_plan_that_no_longer_validates_fails_the_request_with_a_row(
    ports: MemoryPorts, engine: FakeEngine
) -> None:
    lenient = memory_services(ports, engine=FakeEngine(validates=False))
    request_id = _queue(lenient, phases=["retired"])
    result = memory_services(ports, engine=engine).execution.execute_queued(request_id)
    assert result is not None
    assert result.outcome is Outcome.ERRORED
    assert result.warnings == ["invalid plan: phase 'retired' is not defined"]
    assert lenient.suite_requests.get(request_id).status is SuiteRequestStatus.FAILED
    assert engine.executed == []


def test_an_engine_crash_still_leaves_a_row_and_a_terminal_status(
    services: Services, engine: FakeEngine, ports: MemoryPorts
) -> None:
    engine.crash = RuntimeError("the engine fell over")
    request_id = _queue(services)
    result = services.execution.execute_queued(request_id)
    assert result is not None
    assert result.outcome is Outcome.ERRORED
    assert [p.name for p in result.phases] == ["structure"]  # what ran before the crash is kept
    assert result.warnings == ["execution errored: the engine fell over"]
    assert services.suite_requests.get(request_id).status is SuiteRequestStatus.FAILED


def test_a_cancel_during_the_run_stops_it_after_the_current_phase(ports: MemoryPorts) -> None:
    holder: list[Services] = []
    request_ids: list[UUID] = []

    def cancel_during_docs(name: str) -> None:
        if name == "docs":
            holder[0].suite_requests.cancel(request_ids[0])

    services = memory_services(ports, engine=FakeEngine(before_phase=cancel_during_docs))
    holder.append(services)
    request_ids.append(_queue(services))
    result = services.execution.execute_queued(request_ids[0])
    assert result is not None
    assert result.outcome is Outcome.CANCELLED
    assert [p.name for p in result.phases] == ["structure", "standards", "docs"]
    assert services.suite_requests.get(request_ids[0]).status is SuiteRequestStatus.CANCELLED


def test_a_run_past_its_deadline_is_recorded_as_a_timeout(services: Services, engine: FakeEngine) -> None:
    request_id = _queue(services)
    result = services.execution.execute_queued(request_id, deadline=time.monotonic() - 1)
    assert result is not None
    assert result.outcome is Outcome.TIMEOUT
    assert services.suite_requests.get(request_id).status is SuiteRequestStatus.FAILED
    assert engine.deadlines == [pytest.approx(time.monotonic() - 1, abs=60)]


def test_an_unlinked_record_whose_commit_answer_was_lost_is_stored_once(
    services: Services, ports: MemoryPorts
) -> None:
    ports.database.lose_commits = 1
    result = services.execution.execute(SuiteExecutionInput(SuitePlan(scenario_name="demo")))
    assert list(ports.database.tables.executions) == [result.execution_id]


def test_progress_is_stored_after_each_phase(ports: MemoryPorts) -> None:
    seen: list[object] = []
    holder: list[Services] = []
    request_ids: list[UUID] = []

    def look(name: str) -> None:
        progress = holder[0].suite_requests.get(request_ids[0]).progress
        seen.append((name, (progress or {}).get("completedPhases")))

    services = memory_services(ports, engine=FakeEngine(before_phase=look))
    holder.append(services)
    request_ids.append(_queue(services, phases=["structure", "unit"]))
    services.execution.execute_queued(request_ids[0])
    assert seen == [("structure", None), ("unit", 1)]
