"""The queue's rules, run twice: on PostgreSQL (the repositories' SQL) and on the in-memory fakes
(tests/support/fakes.py). The same test passing on both is what keeps the fakes honest: a rule the
fakes get wrong fails here on `memory`, a rule the SQL gets wrong fails here on `postgres`.

Claim, lease expiry, reap, cancel, hand-back, dead-letter and idempotency, through SuiteRequestService
as bootstrap builds it; time moves with `backend.advance` (the fakes' clock, or every stored
timestamp moved back on PostgreSQL).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from testgenie.errors import ConflictError, NotFoundError
from testgenie.paging import Keyset, decode_cursor
from testgenie.queue.models import (
    SUITE_REQUESTS_CURSOR,
    Claim,
    QueueSuiteRequestInput,
    SuiteRequestFilter,
    SuiteRequestStatus,
)
from testgenie.queue.service import SuiteRequestService
from testgenie.records import Trigger

from tests.support.backends import Backend, MemoryBackend, PostgresBackend
from tests.support.records import make_record

LEASE = 60
SETTINGS: dict[str, Any] = {"lease_seconds": LEASE, "max_attempts": 2, "requeue_after_seconds": 300}


@pytest.fixture(params=["postgres", pytest.param("memory", marks=pytest.mark.nodb)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "postgres":
        return PostgresBackend(request.getfixturevalue("db"))
    return MemoryBackend()


@pytest.fixture
def service(backend: Backend) -> SuiteRequestService:
    return backend.services(**SETTINGS).suite_requests


def _queue(service: SuiteRequestService, key: str | None = None, **fields: Any) -> UUID:
    payload = QueueSuiteRequestInput.model_validate({"scenarioName": "demo", **fields})
    request, _ = service.queue(payload, idempotency_key=key)
    return request.id


def _claim(service: SuiteRequestService, request_id: UUID) -> Claim:
    claim = service.claim(request_id)
    assert claim is not None
    return claim


def _finish(service: SuiteRequestService, claim: Claim) -> None:
    service.finish(claim, make_record("demo", suite_request_id=claim.request.id))


# -- queueing and idempotency ----------------------------------------------------------------------


def test_a_queued_request_is_stored_queued_and_published(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service, priority="high")
    stored = service.get(request_id)
    assert (stored.status, stored.attempts, stored.priority.value) == (SuiteRequestStatus.QUEUED, 0, "high")
    assert stored.created_at == stored.updated_at
    assert backend.publisher.published == [request_id]


def test_an_idempotency_key_returns_the_first_request_and_publishes_once(
    backend: Backend, service: SuiteRequestService
) -> None:
    payload = QueueSuiteRequestInput(scenario_name="demo")
    first, created = service.queue(payload, idempotency_key="key-1")
    again, created_again = service.queue(
        QueueSuiteRequestInput(scenario_name="other"), idempotency_key="key-1"
    )
    other, created_other = service.queue(payload, idempotency_key="key-2")
    assert (created, created_again, created_other) == (True, False, True)
    assert again.id == first.id
    assert again.scenario_name == "demo"
    assert other.id != first.id
    assert backend.publisher.published == [first.id, other.id]


def test_requests_without_a_key_are_each_created(service: SuiteRequestService) -> None:
    assert _queue(service) != _queue(service)


# -- claims and leases -----------------------------------------------------------------------------


def test_a_claim_takes_a_queued_request_once_with_a_token_and_a_lease(service: SuiteRequestService) -> None:
    request_id = _queue(service)
    claim = _claim(service, request_id)
    assert claim.token == 1
    assert claim.request.status is SuiteRequestStatus.RUNNING
    lease = claim.lease_expires_at - claim.request.updated_at
    assert timedelta(seconds=LEASE - 1) <= lease <= timedelta(seconds=LEASE + 1)
    assert service.claim(request_id) is None  # running: not claimable again
    assert service.get(request_id).attempts == 1


def test_unknown_cancelled_and_finished_requests_cannot_be_claimed(service: SuiteRequestService) -> None:
    assert service.claim(uuid4()) is None
    cancelled = _queue(service)
    service.cancel(cancelled)
    assert service.claim(cancelled) is None
    done = _queue(service)
    _finish(service, _claim(service, done))
    assert service.claim(done) is None


def test_progress_renews_the_lease_while_the_token_is_current(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    claim = _claim(service, request_id)
    backend.advance(LEASE - 10)
    assert service.record_progress(claim, {"completedPhases": 1}) is False  # keep going
    backend.advance(LEASE - 10)  # past the first lease, within the renewed one
    assert service.reap_expired().requeued == []
    stored = service.get(request_id)
    assert stored.status is SuiteRequestStatus.RUNNING
    assert stored.progress == {"completedPhases": 1}


def test_a_lease_that_runs_out_is_reaped_requeued_and_claimed_again_with_a_new_token(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    lost = _claim(service, request_id)
    backend.advance(LEASE + 1)
    report = service.reap_expired()
    assert report.requeued == [request_id]
    assert service.get(request_id).status is SuiteRequestStatus.QUEUED
    assert backend.publisher.published == [request_id, request_id]  # published again
    second = _claim(service, request_id)
    assert second.token == 2
    assert service.record_progress(lost, {"completedPhases": 3}) is True  # the lost worker must stop
    with pytest.raises(ConflictError, match="taken over by a newer attempt"):
        _finish(service, lost)
    assert backend.execution_count() == 0
    _finish(service, second)
    assert service.get(request_id).status is SuiteRequestStatus.COMPLETED


def test_the_last_attempt_that_runs_out_fails_with_a_timeout_execution(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    for _ in range(2):  # max_attempts = 2
        _claim(service, request_id)
        backend.advance(LEASE + 1)
        report = service.reap_expired()
    assert report.failed == [request_id]
    stored = service.get(request_id)
    assert stored.status is SuiteRequestStatus.FAILED
    assert stored.reason == "the worker's lease expired on attempt 2 of 2"
    assert stored.execution_id is not None
    assert backend.execution_count() == 1
    assert service.reap_expired().failed == []  # once


def test_a_live_lease_is_never_reaped(backend: Backend, service: SuiteRequestService) -> None:
    request_id = _queue(service)
    _claim(service, request_id)
    backend.advance(LEASE - 5)
    report = service.reap_expired()
    assert (report.requeued, report.failed, report.cancelled) == ([], [], [])
    assert service.get(request_id).status is SuiteRequestStatus.RUNNING


def test_a_stale_queued_request_is_published_again(backend: Backend, service: SuiteRequestService) -> None:
    request_id = _queue(service)
    assert service.reap_expired().republished == []  # fresh
    backend.advance(301)
    assert service.reap_expired().republished == [request_id]
    assert service.reap_expired().republished == []  # touched: not again at once
    assert backend.publisher.published == [request_id, request_id]


# -- cancel ----------------------------------------------------------------------------------------


def test_cancelling_a_queued_request_ends_it(service: SuiteRequestService) -> None:
    request_id = _queue(service)
    cancelled = service.cancel(request_id)
    assert cancelled.status is SuiteRequestStatus.CANCELLED
    assert cancelled.cancel_requested
    assert cancelled.reason == "cancelled before it ran"


def test_cancelling_a_running_request_asks_its_worker_to_stop_and_the_reaper_honours_it(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    claim = _claim(service, request_id)
    asked = service.cancel(request_id)
    assert (asked.status, asked.cancel_requested) == (SuiteRequestStatus.RUNNING, True)
    assert service.record_progress(claim, {"completedPhases": 1}) is True
    backend.advance(LEASE + 1)  # the worker never reports back
    assert service.reap_expired().cancelled == [request_id]
    stored = service.get(request_id)
    assert stored.status is SuiteRequestStatus.CANCELLED
    assert stored.reason == "cancelled while its worker was lost"
    assert stored.execution_id is not None


def test_terminal_and_unknown_requests_cannot_be_cancelled(service: SuiteRequestService) -> None:
    request_id = _queue(service)
    _finish(service, _claim(service, request_id))
    with pytest.raises(ConflictError, match="already completed"):
        service.cancel(request_id)
    with pytest.raises(NotFoundError):
        service.cancel(uuid4())


# -- finishing -------------------------------------------------------------------------------------


def test_finish_stores_the_execution_and_the_terminal_status_together(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    claim = _claim(service, request_id)
    record = make_record("demo", suite_request_id=request_id)
    finished = service.finish(claim, record)
    assert finished.status is SuiteRequestStatus.COMPLETED
    assert finished.execution_id == record.id
    assert service.get(request_id).execution_id == record.id
    assert service.get(request_id).progress == {
        "totalPhases": 1,
        "completedPhases": 1,
        "phases": [{"name": "phase0", "status": "passed", "durationMs": 900}],
    }
    assert backend.execution_count() == 1


# -- hand-back and dead letters ----------------------------------------------------------------------


def test_a_hand_back_releases_the_messages_and_a_republish_sends_a_fresh_one(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    service.hand_back(["receipt-1", "receipt-2"], visibility_timeout=2)
    service.hand_back([])  # nothing to release: no call
    assert service.republish(request_id)
    assert backend.publisher.releases == [(["receipt-1", "receipt-2"], 2)]
    assert backend.publisher.published == [request_id, request_id]
    assert service.get(request_id).status is SuiteRequestStatus.QUEUED  # still claimable
    assert _claim(service, request_id).token == 1


def test_a_dead_lettered_request_that_never_ran_is_requeued_up_to_the_bound_then_failed(
    backend: Backend, service: SuiteRequestService
) -> None:
    request_id = _queue(service)
    outcomes = [service.dead_letter(request_id, "poison") for _ in range(3)]
    assert outcomes == ["requeued", "requeued", "failed"]
    stored = service.get(request_id)
    assert stored.status is SuiteRequestStatus.FAILED
    assert stored.reason == "poison; dead-lettered 3 times without completing a run"
    assert stored.progress is not None
    assert stored.progress["error"] == stored.reason
    assert stored.execution_id is not None
    assert backend.execution_count() == 1
    assert backend.publisher.published == [request_id] * 3  # queued, then each requeue
    assert service.dead_letter(request_id, "poison") == "already-terminal"


def test_a_dead_letter_leaves_running_finished_and_unknown_requests_alone(
    backend: Backend, service: SuiteRequestService
) -> None:
    running = _queue(service)
    _claim(service, running)
    done = _queue(service)
    _finish(service, _claim(service, done))
    assert service.dead_letter(running, "x") == "running"
    assert service.dead_letter(done, "x") == "already-terminal"
    assert service.dead_letter(uuid4(), "x") == "already-terminal"
    assert service.get(running).status is SuiteRequestStatus.RUNNING
    assert service.get(done).status is SuiteRequestStatus.COMPLETED
    assert backend.execution_count() == 1


# -- reads -------------------------------------------------------------------------------------------


def test_a_list_pages_newest_first_with_a_cursor_and_filters(
    backend: Backend, service: SuiteRequestService
) -> None:
    ids = []
    for n in range(5):
        ids.append(_queue(service, **({"scenarioName": "other"} if n == 2 else {})))
        backend.advance(1)
    page, cursor = service.list(SuiteRequestFilter(scenario="demo"), Keyset(limit=2))
    assert [r.id for r in page] == [ids[4], ids[3]]
    assert cursor is not None
    rest, end = service.list(
        SuiteRequestFilter(scenario="demo"),
        Keyset(limit=2, after=decode_cursor(SUITE_REQUESTS_CURSOR, cursor)),
    )
    assert ([r.id for r in rest], end) == ([ids[1], ids[0]], None)
    queued, _ = service.list(SuiteRequestFilter(status="running"))
    assert queued == []


def test_the_snapshot_counts_by_status_and_names_the_oldest_pending(
    backend: Backend, service: SuiteRequestService
) -> None:
    first = _queue(service)
    backend.advance(5)
    _queue(service)
    _claim(service, _queue(service))
    snapshot = service.snapshot()
    assert (snapshot.total, snapshot.queued, snapshot.running) == (3, 2, 1)
    assert snapshot.oldest_queued_at == service.get(first).created_at


def test_a_trigger_and_a_rerun_link_are_stored(service: SuiteRequestService) -> None:
    execution = uuid4()
    request, _ = service.queue(
        QueueSuiteRequestInput(scenario_name="demo"), Trigger.RERUN, rerun_of=execution
    )
    stored = service.get(request.id)
    assert (stored.trigger, stored.rerun_of) == (Trigger.RERUN, execution)
