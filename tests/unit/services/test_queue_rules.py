"""SuiteRequestService's rules on the in-memory fakes: validation and defaults, publishing, and what
happens when the database loses an answer or goes away. No database: each test runs in milliseconds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from testgenie.errors import DatabaseUnavailableError, ValidationError
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.queue.service import SuiteRequestService
from testgenie.records import SuiteExecutionRecord, Trigger

from tests.support.fakes import (
    FakePublisher,
    MemoryExecutionStore,
    MemoryPorts,
    memory_ports,
    memory_services,
)
from tests.support.records import make_record

pytestmark = pytest.mark.nodb


@pytest.fixture
def ports() -> MemoryPorts:
    return memory_ports()


@pytest.fixture
def service(ports: MemoryPorts) -> SuiteRequestService:
    return memory_services(ports, lease_seconds=60, max_attempts=2, requeue_after_seconds=60).suite_requests


def _queue(service: SuiteRequestService, **fields: Any) -> UUID:
    request, _ = service.queue(QueueSuiteRequestInput.model_validate({"scenarioName": "demo", **fields}))
    return request.id


def test_a_new_request_gets_the_documented_defaults(service: SuiteRequestService, ports: MemoryPorts) -> None:
    request, created = service.queue(QueueSuiteRequestInput.model_validate({"scenarioName": " eco "}))
    assert created
    assert request.scenario_name == "eco"
    assert request.requested_types == ["unit", "integration"]
    assert (request.coverage_target, request.priority.value) == (95, "normal")
    assert request.estimated_queue_time_seconds == 2 * 30 + 95
    assert (request.trigger, request.created_at) == (Trigger.API, ports.clock())
    assert ports.publisher.published == [request.id]


def test_types_priority_and_notes_are_normalised(service: SuiteRequestService) -> None:
    request, _ = service.queue(
        QueueSuiteRequestInput.model_validate(
            {
                "scenarioName": "demo",
                "requestedTypes": [" Unit", "unit", "", "PERFORMANCE"],
                "priority": " High ",
                "notes": "  nightly  ",
                "phases": [" unit ", ""],
                "skip": ["  "],
            }
        )
    )
    assert request.requested_types == ["unit", "performance"]
    assert (request.priority.value, request.notes) == ("high", "nightly")
    assert (request.phases, request.skip) == (["unit"], [])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scenarioName": ""}, "scenarioName is required"),
        ({"scenarioName": "   "}, "scenarioName is required"),
        ({"scenarioName": "d", "requestedTypes": ["unit", "e2e"]}, "requested type 'e2e' is not supported"),
        ({"scenarioName": "d", "coverageTarget": 101}, "coverageTarget must be between 1 and 100"),
        ({"scenarioName": "d", "coverageTarget": -5}, "coverageTarget must be between 1 and 100"),
        ({"scenarioName": "d", "priority": "asap"}, "priority 'asap' is not supported"),
        ({"scenarioName": "d", "phases": ["nope"]}, "phase 'nope' is not defined"),
    ],
)
def test_a_bad_request_is_refused_naming_the_problem_and_nothing_is_stored(
    service: SuiteRequestService, ports: MemoryPorts, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        service.queue(QueueSuiteRequestInput.model_validate(fields))
    assert info.value.message == message
    assert ports.database.tables.requests == {}
    assert ports.publisher.published == []


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_an_idempotency_key_must_be_1_to_255_characters(service: SuiteRequestService, key: str) -> None:
    with pytest.raises(ValidationError, match="Idempotency-Key must be 1 to 255 characters"):
        service.queue(QueueSuiteRequestInput(scenario_name="demo"), idempotency_key=key or " ")


def test_a_publish_that_fails_keeps_the_row_and_the_reaper_publishes_it_later(ports: MemoryPorts) -> None:
    ports.publisher.fail_all = True
    service = memory_services(ports, requeue_after_seconds=60).suite_requests
    request_id = _queue(service)
    assert ports.publisher.published == []
    assert service.get(request_id).status is SuiteRequestStatus.QUEUED
    ports.publisher.fail_all = False
    ports.clock.advance(61)
    assert service.reap_expired().republished == [request_id]
    assert ports.publisher.published == [request_id]


def test_a_publisher_that_raises_never_loses_the_request(ports: MemoryPorts) -> None:
    ports.publisher.broken = ConnectionError("sqs is down")
    service = memory_services(ports).suite_requests
    request, created = service.queue(QueueSuiteRequestInput(scenario_name="demo"))
    assert created
    assert service.get(request.id).status is SuiteRequestStatus.QUEUED
    assert not service.republish(request.id)  # False: the caller hands the message back instead


def test_a_hand_back_that_fails_is_not_an_error(ports: MemoryPorts) -> None:
    class Broken(FakePublisher):
        def release(self, receipt_handles: Any, visibility_timeout: int = 0) -> None:
            raise ConnectionError("sqs is down")

    service = memory_services(memory_ports(publisher=Broken())).suite_requests
    service.hand_back(["receipt"], visibility_timeout=2)  # they come back after the visibility timeout


def test_a_queue_whose_commit_answer_was_lost_is_read_back_not_doubled(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    ports.database.lose_commits = 1
    request, created = service.queue(QueueSuiteRequestInput(scenario_name="demo"))
    assert created
    assert list(ports.database.tables.requests) == [request.id]
    assert ports.publisher.published == [request.id]


def test_a_claim_whose_answer_was_lost_is_read_back_by_its_claim_id(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    request_id = _queue(service)
    ports.database.lose_commits = 1
    claim = service.claim(request_id)
    assert claim is not None
    assert claim.token == 1  # the claim that committed, not a second attempt
    assert service.get(request_id).attempts == 1


def test_a_finish_whose_answer_was_lost_finds_its_own_execution(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None
    record = make_record("demo", suite_request_id=request_id)
    ports.database.lose_commits = 1
    finished = service.finish(claim, record)
    assert (finished.status, finished.execution_id) == (SuiteRequestStatus.COMPLETED, record.id)
    assert list(ports.database.tables.executions) == [record.id]


def test_a_cancel_whose_answer_was_lost_answers_as_if_it_had_arrived(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    request_id = _queue(service)
    ports.database.lose_commits = 1
    assert service.cancel(request_id).status is SuiteRequestStatus.CANCELLED


def test_a_database_that_is_down_is_a_transient_error_and_changes_nothing(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    request_id = _queue(service)
    ports.database.down = True
    with pytest.raises(DatabaseUnavailableError):
        service.claim(request_id)
    ports.database.down = False
    assert service.get(request_id).status is SuiteRequestStatus.QUEUED


def test_a_failure_inside_a_transaction_leaves_neither_the_status_nor_the_execution(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    class ExplodingExecutions(MemoryExecutionStore):
        def create(self, conn: object, record: SuiteExecutionRecord) -> None:
            super().create(conn, record)
            raise RuntimeError("boom after the insert")

    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None
    broken = replace(ports, execution_store=ExplodingExecutions(ports.database.tables))
    with pytest.raises(RuntimeError, match="boom"):
        memory_services(broken).suite_requests.finish(claim, make_record("demo", suite_request_id=request_id))
    assert service.get(request_id).status is SuiteRequestStatus.RUNNING
    assert ports.database.tables.executions == {}


def test_the_reaper_handles_a_batch_of_expired_leases_in_one_pass(
    service: SuiteRequestService, ports: MemoryPorts
) -> None:
    ids = [_queue(service) for _ in range(5)]
    for request_id in ids:
        assert service.claim(request_id) is not None
    ports.clock.advance(61)
    report = service.reap_expired()
    assert sorted(report.requeued) == sorted(ids)
    assert all(service.get(i).status is SuiteRequestStatus.QUEUED for i in ids)
