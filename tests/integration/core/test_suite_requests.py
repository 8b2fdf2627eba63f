"""SuiteRequestService on a real PostgreSQL: seed validation, the state machine, claims, leases, reaping."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from uuid import UUID, uuid4

import pytest
from testgenie.db import Connection, Database
from testgenie.errors import ConflictError, NotFoundError, ValidationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.paging import Keyset, clamp_limit, decode_cursor
from testgenie.queue.models import (
    SUITE_REQUESTS_CURSOR,
    QueueSuiteRequestInput,
    SuiteRequestFilter,
    SuiteRequestStatus,
)
from testgenie.queue.service import SuiteRequestService
from testgenie.records import SuiteExecutionRecord, Trigger

from tests.support.records import make_record
from tests.support.services import suite_requests
from tests.support.threads import barrier, join_all, start_all


class RecordingPublisher:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[UUID] = []
        self.fail = fail

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        ids = list(request_ids)
        if self.fail:
            raise ConnectionError("sqs is down")
        self.sent.extend(ids)
        return []

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        raise AssertionError("no test here hands a message back")


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def service(db: Database, publisher: RecordingPublisher) -> SuiteRequestService:
    return suite_requests(db, publisher, lease_seconds=60, max_attempts=2, requeue_after_seconds=60)


def _queue(service: SuiteRequestService, **fields: object) -> UUID:
    payload = QueueSuiteRequestInput.model_validate({"scenarioName": "demo", **fields})
    request, _ = service.queue(payload)
    return request.id


def _expire_lease(db: Database, request_id: UUID) -> None:
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET lease_expires_at = NOW() - INTERVAL '1 second' WHERE id = %s",
            (request_id,),
        )
    )


# -- queue: the seed's defaults and validation -------------------------------------------------------


def test_queue_applies_seed_defaults_and_publishes_after_commit(
    service: SuiteRequestService, publisher: RecordingPublisher
) -> None:
    request, created = service.queue(
        QueueSuiteRequestInput.model_validate({"scenarioName": " ecosystem-manager "})
    )

    assert created is True
    assert request.scenario_name == "ecosystem-manager"
    assert request.requested_types == ["unit", "integration"]
    assert request.coverage_target == 95
    assert request.priority == "normal"
    assert request.status == SuiteRequestStatus.QUEUED
    assert request.estimated_queue_time_seconds == 2 * 30 + 95
    assert request.delegation_issue_id is None
    assert "delegationIssueId" not in request.to_json_dict()
    assert publisher.sent == [request.id]
    assert service.get(request.id) == request


def test_queue_normalises_types_priority_and_notes(service: SuiteRequestService) -> None:
    request, _ = service.queue(
        QueueSuiteRequestInput.model_validate(
            {
                "scenarioName": "demo",
                "requestedTypes": [" Unit", "unit", "", "PERFORMANCE"],
                "priority": " High ",
                "coverageTarget": 80,
                "notes": "  nightly  ",
                "preset": "quick",
                "failFast": True,
            }
        )
    )

    assert request.requested_types == ["unit", "performance"]
    assert request.priority == "high"
    assert request.notes == "nightly"
    assert request.estimated_queue_time_seconds == 2 * 30 + 80
    assert (request.preset, request.fail_fast, request.trigger) == ("quick", True, Trigger.API)


def test_requested_types_accepts_a_single_string(service: SuiteRequestService) -> None:
    request, _ = service.queue(
        QueueSuiteRequestInput.model_validate({"scenarioName": "d", "requestedTypes": "vault"})
    )
    assert request.requested_types == ["vault"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scenarioName": ""}, "scenarioName is required"),
        ({"scenarioName": "   "}, "scenarioName is required"),
        ({"scenarioName": "d", "requestedTypes": ["unit", "e2e"]}, "requested type 'e2e' is not supported"),
        ({"scenarioName": "d", "coverageTarget": 101}, "coverageTarget must be between 1 and 100"),
        ({"scenarioName": "d", "coverageTarget": -5}, "coverageTarget must be between 1 and 100"),
        ({"scenarioName": "d", "priority": "asap"}, "priority 'asap' is not supported"),
    ],
)
def test_queue_validation_messages(
    service: SuiteRequestService, publisher: RecordingPublisher, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        service.queue(QueueSuiteRequestInput.model_validate(fields))
    assert info.value.message == message
    assert service.list() == ([], None)
    assert publisher.sent == []


def test_requested_types_of_the_wrong_shape_are_rejected() -> None:
    with pytest.raises(ValueError, match="expected string or array of strings for requestedTypes"):
        QueueSuiteRequestInput.model_validate({"scenarioName": "d", "requestedTypes": 7})


def test_idempotency_key_returns_the_first_request(
    service: SuiteRequestService, publisher: RecordingPublisher
) -> None:
    payload = QueueSuiteRequestInput.model_validate({"scenarioName": "demo"})
    first, created_first = service.queue(payload, idempotency_key="abc")
    second, created_second = service.queue(payload, idempotency_key="abc")

    assert (created_first, created_second) == (True, False)
    assert second.id == first.id
    assert len(service.list()[0]) == 1
    assert publisher.sent == [first.id]


def test_idempotency_key_length_is_validated(service: SuiteRequestService) -> None:
    with pytest.raises(ValidationError, match="Idempotency-Key must be 1 to 255 characters"):
        service.queue(QueueSuiteRequestInput(scenario_name="demo"), idempotency_key="x" * 256)


def test_a_failed_publish_keeps_the_row_and_the_reaper_republishes_it(db: Database) -> None:
    broken = RecordingPublisher(fail=True)
    service = suite_requests(db, broken, requeue_after_seconds=1)
    request, created = service.queue(QueueSuiteRequestInput(scenario_name="demo"))
    assert created
    assert service.get(request.id).status == SuiteRequestStatus.QUEUED

    db.run(lambda conn: conn.execute("UPDATE suite_requests SET updated_at = NOW() - INTERVAL '1 minute'"))
    broken.fail = False
    report = service.reap_expired()

    assert report.republished == [request.id]
    assert broken.sent == [request.id]
    assert service.reap_expired().republished == []  # touched: not re-sent on every sweep


# -- reads ----------------------------------------------------------------------------------------------


def test_list_newest_first_with_status_filter_and_cap(service: SuiteRequestService) -> None:
    ids = [_queue(service) for _ in range(3)]
    service.cancel(ids[0])

    assert [r.id for r in service.list()[0]] == list(reversed(ids))
    cancelled = SuiteRequestFilter(status=SuiteRequestStatus.CANCELLED.value)
    assert [r.id for r in service.list(cancelled)[0]] == [ids[0]]
    first, cursor = service.list(keyset=Keyset(limit=2))
    assert len(first) == 2
    assert cursor is not None
    rest, last = service.list(keyset=Keyset(limit=2, after=decode_cursor(SUITE_REQUESTS_CURSOR, cursor)))
    assert [r.id for r in [*first, *rest]] == list(reversed(ids))
    assert last is None
    assert len(service.list(keyset=Keyset(limit=clamp_limit(500)))[0]) == 3


def test_snapshot_counts_by_status_and_reports_the_oldest_pending(
    service: SuiteRequestService, db: Database
) -> None:
    assert service.snapshot().total == 0
    first, second, third = (_queue(service) for _ in range(3))
    db.run(
        lambda conn: conn.execute("UPDATE suite_requests SET status = 'delegated' WHERE id = %s", (second,))
    )
    service.cancel(third)

    snapshot = service.snapshot()

    assert (snapshot.total, snapshot.queued, snapshot.delegated, snapshot.cancelled) == (3, 1, 1, 1)
    assert snapshot.pending == 2
    assert snapshot.oldest_queued_at == service.get(first).created_at


def test_get_unknown_is_not_found(service: SuiteRequestService) -> None:
    with pytest.raises(NotFoundError, match="suite request not found"):
        service.get(uuid4())


# -- claim -------------------------------------------------------------------------------------------


def test_twenty_threads_claiming_one_request_exactly_one_wins(database_url: str, db: Database) -> None:
    request_id = _queue(suite_requests(db))
    ready = barrier(20)
    wins: list[int] = []

    def worker() -> None:
        own = suite_requests(Database(database_url))  # one connection per worker, as in Lambda
        ready.wait()
        claim = own.claim(request_id)
        if claim is not None:
            wins.append(claim.token)

    join_all(start_all(threading.Thread(target=worker) for _ in range(20)))

    assert wins == [1]
    stored = suite_requests(db).get(request_id)
    assert (stored.status, stored.attempts) == (SuiteRequestStatus.RUNNING, 1)


@pytest.mark.parametrize("terminal", ["cancelled", "completed", "failed", "running"])
def test_only_queued_or_delegated_requests_can_be_claimed(
    service: SuiteRequestService, db: Database, terminal: str
) -> None:
    request_id = _queue(service)
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET status = %s, lease_expires_at = NOW() WHERE id = %s",
            (terminal, request_id),
        )
    )
    assert service.claim(request_id) is None


def test_delegated_is_claimable_like_queued(service: SuiteRequestService, db: Database) -> None:
    request_id = _queue(service)
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET status = 'delegated' WHERE id = %s", (request_id,)
        )
    )
    assert service.claim(request_id) is not None


def test_claim_of_unknown_request_is_none(service: SuiteRequestService) -> None:
    assert service.claim(uuid4()) is None


# -- finish ------------------------------------------------------------------------------------------


def test_finish_records_the_execution_and_the_status_together(
    service: SuiteRequestService, db: Database
) -> None:
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None
    record = make_record(suite_request_id=request_id)

    finished = service.finish(claim, record)

    assert finished.status == SuiteRequestStatus.COMPLETED
    assert finished.execution_id == record.id
    assert service.get(request_id).execution_id == record.id
    assert service.get(request_id).progress == {
        "totalPhases": 1,
        "completedPhases": 1,
        "phases": [{"name": "phase0", "status": "passed", "durationMs": 900}],
    }


def test_a_worker_with_a_stale_token_cannot_finish(service: SuiteRequestService, db: Database) -> None:
    request_id = _queue(service)
    old = service.claim(request_id)
    assert old is not None
    _expire_lease(db, request_id)
    assert service.reap_expired().requeued == [request_id]
    new = service.claim(request_id)
    assert new is not None
    assert new.token == old.token + 1

    with pytest.raises(ConflictError, match="taken over by a newer attempt"):
        service.finish(old, make_record(suite_request_id=request_id))
    assert service.record_progress(old, {"completedPhases": 1}) is True  # the stale worker is told to stop
    assert db.run(lambda conn: SuiteExecutionRepository().count(conn)) == 0

    service.finish(new, make_record(suite_request_id=request_id))
    assert service.get(request_id).status == SuiteRequestStatus.COMPLETED


def test_a_failure_between_the_insert_and_the_status_update_leaves_neither(db: Database) -> None:
    class ExplodingExecutions(SuiteExecutionRepository):
        def create(self, conn: Connection, record: SuiteExecutionRecord) -> None:
            super().create(conn, record)
            raise RuntimeError("crash after the insert, before commit")

    service = suite_requests(db, executions=ExplodingExecutions())
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None

    with pytest.raises(RuntimeError):
        service.finish(claim, make_record(suite_request_id=request_id))

    stored = service.get(request_id)
    assert stored.status == SuiteRequestStatus.RUNNING
    assert stored.execution_id is None
    assert db.run(lambda conn: SuiteExecutionRepository().count(conn)) == 0


def test_one_execution_per_request_even_if_finish_races(service: SuiteRequestService, db: Database) -> None:
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None
    service.finish(claim, make_record(suite_request_id=request_id))

    with pytest.raises(ConflictError):
        service.finish(claim, make_record(suite_request_id=request_id))
    assert db.run(lambda conn: SuiteExecutionRepository().count(conn)) == 1


# -- cancel ------------------------------------------------------------------------------------------


def test_cancel_a_queued_request(service: SuiteRequestService) -> None:
    request_id = _queue(service)

    cancelled = service.cancel(request_id)

    assert cancelled.status == SuiteRequestStatus.CANCELLED
    assert service.claim(request_id) is None


def test_cancel_a_running_request_asks_the_worker_to_stop(service: SuiteRequestService) -> None:
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None

    answer = service.cancel(request_id)

    assert (answer.status, answer.cancel_requested) == (SuiteRequestStatus.RUNNING, True)
    assert service.record_progress(claim, {"completedPhases": 1}) is True


@pytest.mark.parametrize("terminal", ["completed", "failed", "cancelled"])
def test_terminal_requests_cannot_be_cancelled(
    service: SuiteRequestService, db: Database, terminal: str
) -> None:
    request_id = _queue(service)
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET status = %s WHERE id = %s", (terminal, request_id)
        )
    )

    with pytest.raises(ConflictError, match=f"already {terminal} and cannot be cancelled"):
        service.cancel(request_id)
    assert service.get(request_id).status == terminal


def test_cancel_unknown_is_not_found(service: SuiteRequestService) -> None:
    with pytest.raises(NotFoundError, match="suite request not found"):
        service.cancel(uuid4())


# -- reaper ------------------------------------------------------------------------------------------


def test_reaper_requeues_then_fails_at_max_attempts_with_an_execution_row(
    service: SuiteRequestService, db: Database, publisher: RecordingPublisher
) -> None:
    request_id = _queue(service)
    publisher.sent.clear()
    for attempt in (1, 2):
        claim = service.claim(request_id)
        assert claim is not None
        assert claim.token == attempt
        service.record_progress(
            claim, {"phases": [{"name": "structure", "status": "passed", "durationMs": 3}]}
        )
        _expire_lease(db, request_id)
        report = service.reap_expired()
        if attempt == 1:
            assert report.requeued == [request_id]
            assert publisher.sent == [request_id]  # re-queued rows are re-published
            assert service.get(request_id).status == SuiteRequestStatus.QUEUED

    assert report.failed == [request_id]
    failed = service.get(request_id)
    assert failed.status == SuiteRequestStatus.FAILED
    assert failed.execution_id is not None
    record = db.run(lambda conn: SuiteExecutionRepository().get_by_id(conn, failed.execution_id))  # type: ignore[arg-type]
    assert record is not None
    assert record.outcome == "timeout"
    assert record.warnings == ["the worker's lease expired on attempt 2 of 2"]
    assert [p.name for p in record.phases] == ["structure"]


def test_reaper_ignores_live_leases_and_honours_cancel(service: SuiteRequestService, db: Database) -> None:
    live = _queue(service)
    assert service.claim(live) is not None
    cancelled = _queue(service)
    assert service.claim(cancelled) is not None
    service.cancel(cancelled)
    _expire_lease(db, cancelled)

    report = service.reap_expired()

    assert report.cancelled == [cancelled]
    assert service.get(live).status == SuiteRequestStatus.RUNNING
    assert service.get(cancelled).status == SuiteRequestStatus.CANCELLED


def test_two_reapers_at_once_handle_each_row_once(database_url: str, db: Database) -> None:
    setup = suite_requests(db, max_attempts=1)
    ids = [_queue(setup) for _ in range(10)]
    for request_id in ids:
        assert setup.claim(request_id) is not None
    db.run(
        lambda conn: conn.execute("UPDATE suite_requests SET lease_expires_at = NOW() - INTERVAL '1 second'")
    )
    ready = barrier(2)
    failed: list[UUID] = []

    def reap() -> None:
        reaper = suite_requests(Database(database_url), max_attempts=1)
        ready.wait()
        failed.extend(reaper.reap_expired().failed)

    join_all(start_all(threading.Thread(target=reap) for _ in range(2)))

    assert sorted(failed) == sorted(ids)
    assert db.run(lambda conn: SuiteExecutionRepository().count(conn)) == 10


# -- dead letters -------------------------------------------------------------------------------------


def test_a_dead_lettered_request_that_never_ran_is_requeued_until_the_bound_then_failed(
    service: SuiteRequestService, db: Database
) -> None:
    """Its receives were hand-backs or transient failures: it is published again, MAX_ATTEMPTS times."""
    request_id = _queue(service)

    outcomes = [service.dead_letter(request_id, "moved to the DLQ") for _ in range(service.max_attempts + 2)]

    assert outcomes == ["requeued"] * service.max_attempts + ["failed", "already-terminal"]
    failed = service.get(request_id)
    assert failed.status == SuiteRequestStatus.FAILED
    assert failed.reason is not None
    assert failed.reason.startswith("moved to the DLQ; dead-lettered")
    assert db.run(lambda conn: SuiteExecutionRepository().count(conn)) == 1
    record = db.run(lambda conn: SuiteExecutionRepository().get_by_request(conn, request_id))
    assert record is not None
    assert record.outcome == "errored"


def test_a_dead_letter_never_touches_a_running_request(service: SuiteRequestService, db: Database) -> None:
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None

    assert service.dead_letter(request_id, "moved to the DLQ") == "running"

    finished = service.finish(claim, make_record(suite_request_id=request_id))
    assert finished.status == SuiteRequestStatus.COMPLETED  # the real result is kept


def test_a_dead_letter_leaves_completed_requests_alone(service: SuiteRequestService) -> None:
    request_id = _queue(service)
    claim = service.claim(request_id)
    assert claim is not None
    service.finish(claim, make_record(suite_request_id=request_id))

    assert service.dead_letter(request_id, "late dead letter") == "already-terminal"
    assert service.get(request_id).status == SuiteRequestStatus.COMPLETED
