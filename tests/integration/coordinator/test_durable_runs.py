"""ExecuteFunction's side of durable runs on a real PostgreSQL: POST /executions' 200 or 202, and a
cancel that stops the execution, or says "cancelling" when the stop cannot be made."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from testgenie.coordinator.runs import CANCEL_REASON, DurableRuns, ExecutionAccepted
from testgenie.db import Database
from testgenie.errors import ConflictError, TransientError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.service import SuiteExecutionInput, SuiteExecutionService
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.orchestrator.models import SuitePlan
from testgenie.queue.models import SuiteRequestStatus
from testgenie.queue.service import SuiteRequestService
from testgenie.records import execution_id_for

from tests.support.engine import FakeEngine
from tests.support.services import suite_requests

ARN = "arn:aws:lambda:us-east-1:123456789012:function:tg-coordinator:live/durable-execution/{id}/1"


class ScriptedControl:
    """DurableControl whose started executions run at once (or never), and whose stop can fail."""

    def __init__(
        self, requests: SuiteRequestService, *, runs: bool, stop_fails: bool = False, ended: str | None = None
    ) -> None:
        self.requests = requests
        self.runs = runs
        self.stop_fails = stop_fails
        self.ended_status = ended
        self.started: list[UUID] = []
        self.stopped: list[str] = []

    def start(self, suite_request_id: UUID) -> str | None:
        if suite_request_id in self.started:
            return None
        self.started.append(suite_request_id)
        claim = self.requests.claim_durable(suite_request_id, ARN.format(id=suite_request_id))
        assert claim is not None
        if self.runs:  # as if the coordinator ran and recorded the run within the wait
            self.requests.record_stopped(suite_request_id, "stand-in record", SuiteRequestStatus.FAILED)
        return ARN.format(id=suite_request_id)

    def ended(self, suite_request_id: UUID) -> str | None:
        return self.ended_status

    def stop(self, execution_arn: str, reason: str) -> bool:
        if self.stop_fails:
            raise TransientError("Lambda is unreachable")
        self.stopped.append(execution_arn)
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def _runs(db: Database, control: ScriptedControl, clock: FakeClock) -> DurableRuns:
    requests = control.requests
    executions = SuiteExecutionService(FakeEngine(), db, requests, SuiteExecutionRepository())
    return DurableRuns(
        requests,
        executions,
        ExecutionHistoryService(db, HistoryRepository()),
        control,
        clock=clock,
        sleep=clock.sleep,
    )


def _run_now(scenario: str = "web", suite_request_id: UUID | None = None) -> SuiteExecutionInput:
    return SuiteExecutionInput(
        request=SuitePlan(scenario_name=scenario, phases=["structure"]),
        suite_request_id=suite_request_id,
    )


@pytest.fixture
def requests(db: Database) -> SuiteRequestService:
    return suite_requests(db)


def test_a_run_that_ends_within_the_wait_answers_its_result(
    db: Database, requests: SuiteRequestService
) -> None:
    control = ScriptedControl(requests, runs=True)
    answer = _runs(db, control, FakeClock()).run_now(_run_now(), wait_seconds=25)

    assert isinstance(answer, str)
    result = json.loads(answer)
    assert result["executionId"] == str(execution_id_for(control.started[0]))
    assert result["suiteRequestId"] == str(control.started[0])


def test_a_run_still_going_after_the_wait_answers_where_to_follow_it(
    db: Database, requests: SuiteRequestService
) -> None:
    control = ScriptedControl(requests, runs=False)
    clock = FakeClock()
    answer = _runs(db, control, clock).run_now(_run_now(), wait_seconds=25)

    assert isinstance(answer, ExecutionAccepted)
    (request_id,) = control.started
    assert answer.suite_request_id == request_id
    assert answer.execution_id == execution_id_for(request_id)
    assert answer.status == "running"
    assert answer.follow == f"/api/v1/suite-requests/{request_id}"
    assert clock.now >= 25  # it waited the whole time it was given, polling (bounded)
    assert 1 < clock.sleeps < 400


def test_a_linked_request_that_is_no_longer_claimable_is_a_conflict_and_starts_nothing(
    db: Database, requests: SuiteRequestService
) -> None:
    control = ScriptedControl(requests, runs=True)
    runs = _runs(db, control, FakeClock())
    runs.run_now(_run_now(), wait_seconds=1)
    (done,) = control.started
    with pytest.raises(ConflictError):
        runs.run_now(_run_now(suite_request_id=done), wait_seconds=1)
    assert control.started == [done]


def test_cancel_stops_the_durable_execution_and_records_it(
    db: Database, requests: SuiteRequestService
) -> None:
    control = ScriptedControl(requests, runs=False)
    runs = _runs(db, control, FakeClock())
    accepted = runs.run_now(_run_now(), wait_seconds=0)
    assert isinstance(accepted, ExecutionAccepted)

    cancelled = runs.cancel(accepted.suite_request_id)

    assert control.stopped == [ARN.format(id=accepted.suite_request_id)]
    assert cancelled.status is SuiteRequestStatus.CANCELLED
    assert cancelled.reason == CANCEL_REASON
    assert cancelled.execution_id == accepted.execution_id


def test_a_cancel_whose_stop_fails_leaves_the_request_cancelling(
    db: Database, requests: SuiteRequestService
) -> None:
    control = ScriptedControl(requests, runs=False, stop_fails=True)
    runs = _runs(db, control, FakeClock())
    accepted = runs.run_now(_run_now(), wait_seconds=0)
    assert isinstance(accepted, ExecutionAccepted)

    answer = runs.cancel(accepted.suite_request_id)

    assert answer.status is SuiteRequestStatus.RUNNING
    assert answer.cancel_requested  # shown "cancelling"; the coordinator stops after its phase


def test_a_request_whose_execution_ended_before_claiming_it_is_failed_not_left_queued(
    db: Database, requests: SuiteRequestService
) -> None:
    from testgenie.queue.models import QueueSuiteRequestInput

    queued, _ = requests.queue(QueueSuiteRequestInput(scenario_name="web", phases=["structure"]))
    control = ScriptedControl(requests, runs=False, ended="FAILED")
    control.started.append(queued.id)  # its execution was started once, and died before its claim
    runs = _runs(db, control, FakeClock())

    assert runs.start(queued.id) is False  # a re-delivery finds the name taken

    current = requests.get(queued.id)
    assert current.status is SuiteRequestStatus.FAILED
    assert current.reason == "interrupted: its durable execution ended (FAILED) before it claimed the request"
    assert current.execution_id == execution_id_for(queued.id)


def test_a_duplicate_of_a_running_execution_changes_nothing(
    db: Database, requests: SuiteRequestService
) -> None:
    from testgenie.queue.models import QueueSuiteRequestInput

    queued, _ = requests.queue(QueueSuiteRequestInput(scenario_name="web", phases=["structure"]))
    control = ScriptedControl(requests, runs=False, ended=None)
    control.started.append(queued.id)

    assert _runs(db, control, FakeClock()).start(queued.id) is False
    assert requests.get(queued.id).status is SuiteRequestStatus.QUEUED


def test_a_short_run_is_answered_soon_after_it_ends(db: Database, requests: SuiteRequestService) -> None:
    control = ScriptedControl(requests, runs=False)
    clock = FakeClock()
    ends_at = 0.4
    sleep = clock.sleep

    def sleep_then_maybe_end(seconds: float) -> None:
        sleep(seconds)
        if clock.now >= ends_at and control.started:  # the run records itself at 0.4 s
            started = control.started[0]
            if requests.get(started).status is SuiteRequestStatus.RUNNING:
                requests.record_stopped(started, "stand-in record", SuiteRequestStatus.FAILED)

    runs = DurableRuns(
        requests,
        SuiteExecutionService(FakeEngine(), db, requests, SuiteExecutionRepository()),
        ExecutionHistoryService(db, HistoryRepository()),
        control,
        clock=clock,
        sleep=sleep_then_maybe_end,
    )
    answer = runs.run_now(_run_now(), wait_seconds=25)

    assert isinstance(answer, str)
    assert ends_at <= clock.now <= ends_at + 0.02  # polled at most 20 ms apart in its first second
