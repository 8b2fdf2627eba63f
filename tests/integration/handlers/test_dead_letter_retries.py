"""The dead-letter handler waits out a short database outage inside its invocation (bounded backoff)
instead of reporting the record failed: the DLQ's visibility timeout is 90 minutes."""

from __future__ import annotations

import json
from collections.abc import Callable
from uuid import UUID

import pytest
from testgenie.db import Database
from testgenie.entrypoints.sqs import DeadLetterRecordHandler, process_batch
from testgenie.errors import CommitOutcomeUnknownError, DatabaseUnavailableError
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.queue.service import SuiteRequestService
from testgenie.retrying import MAX_DELAY_SECONDS

from tests.support.context import FakeLambdaContext
from tests.support.events import sqs_batch, sqs_record
from tests.support.handlers import Queues
from tests.support.services import suite_requests


class Flaky:
    """A SuiteRequestService whose dead_letter fails `failures` times with `error`, then works."""

    def __init__(self, real: SuiteRequestService, failures: int, error: type[Exception]) -> None:
        self.real, self.failures, self.error, self.calls = real, failures, error, 0

    def dead_letter(self, request_id: UUID, reason: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("the database is gone")
        return self.real.dead_letter(request_id, reason)


class SleepingClock:
    """A monotonic clock that moves only when the handler sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.current = 0.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += seconds

    def now(self) -> float:
        return self.current


def _dead_letters(env: Queues, *ids: UUID) -> dict[str, object]:
    records = [sqs_record(json.dumps({"suiteRequestId": str(i)}), env.dlq_arn, receive_count=5) for i in ids]
    return sqs_batch(*records)


def _queued(db: Database) -> UUID:
    request, _ = suite_requests(db).queue(QueueSuiteRequestInput(scenario_name="demo"))
    return request.id


def _handler(service: object, sleeps: list[float], **options: object) -> Callable[..., str]:
    return DeadLetterRecordHandler(lambda: service, sleep=sleeps.append, **options)  # type: ignore[arg-type,return-value]


def test_a_transient_failure_is_retried_in_the_invocation_with_growing_bounded_pauses(
    env: Queues, db: Database
) -> None:
    request_id = _queued(db)
    flaky = Flaky(suite_requests(db), failures=8, error=DatabaseUnavailableError)
    sleeps: list[float] = []

    response = process_batch(_dead_letters(env, request_id), None, _handler(flaky, sleeps))

    assert response == {"batchItemFailures": []}  # handled now, not after the DLQ's 90 minutes
    assert flaky.calls == 9
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert max(sleeps) <= MAX_DELAY_SECONDS  # the first try after the database is back comes soon
    row = db.run(lambda conn: conn.execute("SELECT dead_letters FROM suite_requests").fetchone())
    assert row is not None
    assert row["dead_letters"] == 1  # re-queued once: the failed tries did nothing


def test_a_lost_commit_is_not_retried_blindly(env: Queues, db: Database) -> None:
    request_id = _queued(db)
    flaky = Flaky(suite_requests(db), failures=1, error=CommitOutcomeUnknownError)
    sleeps: list[float] = []

    response = process_batch(_dead_letters(env, request_id), None, _handler(flaky, sleeps))

    assert len(response["batchItemFailures"]) == 1  # back to the queue; the next delivery reads the row
    assert (flaky.calls, sleeps) == (1, [])


def test_once_a_record_gives_up_the_rest_of_the_batch_does_not_wait_again(env: Queues, db: Database) -> None:
    ids = [_queued(db) for _ in range(3)]
    flaky = Flaky(suite_requests(db), failures=10**6, error=DatabaseUnavailableError)
    time = SleepingClock()
    handler = DeadLetterRecordHandler(
        lambda: flaky,  # type: ignore[arg-type,return-value]
        retry_seconds=10,
        sleep=time.sleep,
        clock=time.now,
    )
    response = process_batch(_dead_letters(env, *ids), None, handler)

    assert len(response["batchItemFailures"]) == 3
    assert sum(time.sleeps) == pytest.approx(10)  # the first record's budget, then no more waiting
    assert flaky.calls == len(time.sleeps) + 3


def test_the_retries_end_before_the_invocation_does(env: Queues, db: Database) -> None:
    request_id = _queued(db)
    flaky = Flaky(suite_requests(db), failures=10**6, error=DatabaseUnavailableError)
    time = SleepingClock()
    context = FakeLambdaContext(remaining_ms=[10_000 + 2_000])  # 2 s past the safety margin
    handler = DeadLetterRecordHandler(
        lambda: flaky,  # type: ignore[arg-type,return-value]
        context,
        sleep=time.sleep,
        clock=time.now,
    )
    response = process_batch(_dead_letters(env, request_id), context, handler)

    assert len(response["batchItemFailures"]) == 1
    assert sum(time.sleeps) == pytest.approx(2.0)
