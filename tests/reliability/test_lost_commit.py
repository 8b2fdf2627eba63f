"""A connection cut right after COMMIT: the write is stored, its acknowledgement lost.

A TCP proxy between the service and PostgreSQL lets the statement commit and drops the server's
answer (tests/reliability/tcp_proxy.py). A blind retry would run the write twice; the outcome is
unknown, so it is read back and acted on (docs/database.md, "What can go wrong").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from testgenie.db import Connection, Database
from testgenie.errors import CommitOutcomeUnknownError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.service import SuiteExecutionService
from testgenie.orchestrator.models import Outcome
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus

from tests.reliability.tcp_proxy import CuttingProxy
from tests.support.drills import query
from tests.support.engine import FakeEngine
from tests.support.records import make_record
from tests.support.services import suite_requests

_INSERT = (
    "INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status) "
    "VALUES (%s, 'rel-cut', '{unit}', 95, 'normal', 'queued')"
)


def _rows(database_url: str, request_id: Any) -> int:
    return int(
        query(database_url, "SELECT count(*) AS n FROM suite_requests WHERE id = %s", (request_id,))[0]["n"]
    )


def test_a_transaction_whose_commit_answer_is_lost_is_not_rerun(
    database_url: str, cutting_proxy: CuttingProxy
) -> None:
    db = Database(cutting_proxy.url(database_url))
    request_id = uuid4()
    calls = 0

    def insert(conn: Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute(_INSERT, (request_id,))

    db.ping()
    cutting_proxy.cut_after("COMMIT")
    with pytest.raises(CommitOutcomeUnknownError):
        db.run(insert)

    assert cutting_proxy.cuts == ["COMMIT"]
    assert calls == 1, "a commit with an unknown outcome was retried"
    assert _rows(database_url, request_id) == 1
    assert db.ping(), "the next use reconnects"


def test_a_broken_link_before_commit_is_retried_once(database_url: str, cutting_proxy: CuttingProxy) -> None:
    """The cut lands on the INSERT inside the transaction: nothing committed, so the retry is safe."""
    db = Database(cutting_proxy.url(database_url))
    request_id = uuid4()
    db.ping()
    cutting_proxy.cut_after("INSERT INTO suite_requests")

    db.run(lambda conn: conn.execute(_INSERT, (request_id,)))

    assert _rows(database_url, request_id) == 1


def test_a_lone_write_whose_answer_is_lost_is_not_rerun(
    database_url: str, cutting_proxy: CuttingProxy
) -> None:
    db = Database(cutting_proxy.url(database_url))
    request_id = uuid4()
    db.ping()
    cutting_proxy.cut_after("INSERT INTO suite_requests")

    with pytest.raises(CommitOutcomeUnknownError):
        db.run_statement(lambda conn: conn.execute(_INSERT, (request_id,)), idempotent=False)

    assert _rows(database_url, request_id) == 1
    # A read is retried on a fresh connection.
    cutting_proxy.cut_after("SELECT 1")
    assert db.ping()


# -- the services: queue, claim and finish with the answer to their write lost --------------------


class CountingPublisher:
    def __init__(self) -> None:
        self.published: list[UUID] = []

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        self.published.extend(request_ids)
        return []

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        return None


@pytest.fixture
def through_proxy(
    database_url: str, cutting_proxy: CuttingProxy
) -> Iterator[tuple[Database, CountingPublisher]]:
    db = Database(cutting_proxy.url(database_url))
    assert db.ping()
    yield db, CountingPublisher()
    db.close()


def _executions_of(database_url: str, request_id: UUID) -> list[dict[str, Any]]:
    return query(
        database_url, "SELECT id, outcome FROM suite_executions WHERE suite_request_id = %s", (request_id,)
    )


def test_queue_whose_commit_answer_is_lost_answers_created_once(
    database_url: str, cutting_proxy: CuttingProxy, through_proxy: tuple[Database, CountingPublisher]
) -> None:
    db, publisher = through_proxy
    service = suite_requests(db, publisher)
    cutting_proxy.cut_after("COMMIT")

    request, created = service.queue(QueueSuiteRequestInput(scenario_name="rel-cut"))

    assert cutting_proxy.cuts == ["COMMIT"]
    assert created
    assert _rows(database_url, request.id) == 1
    assert publisher.published == [request.id]  # published once: never a row without its message


def test_claim_whose_answer_is_lost_is_still_this_worker_s(
    database_url: str, cutting_proxy: CuttingProxy, through_proxy: tuple[Database, CountingPublisher]
) -> None:
    """Without the read-back the claim answers None, the message is acknowledged as a duplicate and
    the request waits a whole lease."""
    db, publisher = through_proxy
    service = suite_requests(db, publisher)
    request, _ = service.queue(QueueSuiteRequestInput(scenario_name="rel-cut"))
    cutting_proxy.cut_after("SET status = 'running'")

    claim = service.claim(request.id)

    assert cutting_proxy.cuts == ["SET status = 'running'"]
    assert claim is not None
    assert claim.token == 1
    finished = service.finish(claim, make_record("rel-cut", suite_request_id=request.id))
    assert finished.status is SuiteRequestStatus.COMPLETED
    assert len(_executions_of(database_url, request.id)) == 1


def test_finish_whose_commit_answer_is_lost_keeps_the_one_result(
    database_url: str, cutting_proxy: CuttingProxy, through_proxy: tuple[Database, CountingPublisher]
) -> None:
    """Without the read-back the retry is refused as "taken over by a newer attempt": a 409 for a
    result that was stored."""
    db, publisher = through_proxy
    service = suite_requests(db, publisher)
    request, _ = service.queue(QueueSuiteRequestInput(scenario_name="rel-cut"))
    claim = service.claim(request.id)
    assert claim is not None
    record = make_record("rel-cut", suite_request_id=request.id)
    cutting_proxy.cut_after("COMMIT")

    finished = service.finish(claim, record)

    assert cutting_proxy.cuts == ["COMMIT"]
    assert (finished.status, finished.execution_id) == (SuiteRequestStatus.COMPLETED, record.id)
    assert [row["id"] for row in _executions_of(database_url, request.id)] == [record.id]


def test_a_queued_run_with_every_write_cut_once_ends_with_one_execution(
    database_url: str, cutting_proxy: CuttingProxy, through_proxy: tuple[Database, CountingPublisher]
) -> None:
    """The SQS path end to end (claim, progress, finish), each write losing its answer once."""
    db, publisher = through_proxy
    requests = suite_requests(db, publisher)
    engine = FakeEngine()
    executions = SuiteExecutionService(engine, db, requests, SuiteExecutionRepository())
    request, _ = requests.queue(QueueSuiteRequestInput(scenario_name="rel-cut"))
    for statement in ("SET status = 'running'", "SET progress = ", "COMMIT"):
        cutting_proxy.cut_after(statement)

    result = executions.execute_queued(request.id, deadline=time.monotonic() + 60)

    assert not cutting_proxy.armed, cutting_proxy.cuts
    assert result is not None
    assert result.outcome is Outcome.PASSED
    assert len(engine.executed) == 1  # ran once
    stored = requests.get(request.id)
    assert (stored.status, stored.attempts, stored.execution_id) == (
        SuiteRequestStatus.COMPLETED,
        1,
        result.execution_id,
    )
    assert len(_executions_of(database_url, request.id)) == 1
