"""The suite-request side of durable executions, on a real PostgreSQL: an idempotent claim, the
reaper's verdict on a durable run that stopped renewing, and the record of a stopped (cancelled) run."""

from __future__ import annotations

from uuid import UUID

from testgenie.db import Database
from testgenie.orchestrator.models import PhaseResult, PhaseStatus
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.queue.service import SuiteRequestService
from testgenie.records import progress_of

from tests.support.services import suite_requests

ARN = "arn:aws:lambda:us-east-1:123456789012:function:tg-coordinator:live/durable-execution/x/1"


def _queued(requests: SuiteRequestService) -> UUID:
    request, _ = requests.queue(QueueSuiteRequestInput(scenario_name="hello-python", phases=["structure"]))
    return request.id


def _expire(db: Database, request_id: UUID) -> None:
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET lease_expires_at = NOW() - interval '1 second' WHERE id = %s",
            (request_id,),
        )
    )


def test_a_durable_claim_is_taken_once_and_repeats_for_its_own_execution(db: Database) -> None:
    requests = suite_requests(db)
    request_id = _queued(requests)
    first = requests.claim_durable(request_id, ARN)
    again = requests.claim_durable(request_id, ARN)
    other = requests.claim_durable(request_id, ARN.replace("/1", "/2"))

    assert first is not None
    assert again is not None
    assert (again.token, again.claim_id) == (first.token, first.claim_id) == (1, first.claim_id)
    assert other is None  # another execution never takes a running request
    assert requests.durable_execution_arn(request_id) == ARN


def test_the_reaper_fails_a_durable_run_that_stopped_renewing_instead_of_requeueing(db: Database) -> None:
    requests = suite_requests(db, max_attempts=3)
    request_id = _queued(requests)
    assert requests.claim_durable(request_id, ARN) is not None
    _expire(db, request_id)

    report = requests.reap_expired()

    assert report.failed == [request_id]
    assert report.requeued == []
    current = requests.get(request_id)
    assert current.status is SuiteRequestStatus.FAILED
    assert (current.reason or "").startswith("interrupted")
    assert current.execution_id is not None


def test_the_reaper_still_requeues_a_lost_worker_of_the_old_path(db: Database) -> None:
    requests = suite_requests(db, max_attempts=3)
    request_id = _queued(requests)
    assert requests.claim(request_id) is not None
    _expire(db, request_id)

    assert requests.reap_expired().requeued == [request_id]


def test_a_stopped_run_is_recorded_cancelled_with_the_phases_it_finished(db: Database) -> None:
    requests = suite_requests(db)
    request_id = _queued(requests)
    claim = requests.claim_durable(request_id, ARN)
    assert claim is not None
    done = [PhaseResult(name="structure", status=PhaseStatus.PASSED, duration_ms=10)]
    requests.record_progress(claim, progress_of(done, ["structure", "lint"]))

    ended = requests.record_stopped(request_id, "cancelled by a user: stopped at once")
    twice = requests.record_stopped(request_id, "again")

    assert ended.status is SuiteRequestStatus.CANCELLED
    assert ended.reason == "cancelled by a user: stopped at once"
    assert (twice.reason, twice.execution_id) == (ended.reason, ended.execution_id)
    row = db.run(
        lambda conn: conn.execute(
            "SELECT outcome, phases FROM suite_executions WHERE suite_request_id = %s", (request_id,)
        ).fetchall()
    )
    assert [(r["outcome"], [p["name"] for p in r["phases"]]) for r in row] == [("cancelled", ["structure"])]
