"""A backlog of 200 requests, workers that hand back most of every batch, a reaper that re-publishes.

Each hand-back used to be a ChangeMessageVisibility 0, so every receive counted toward the queue's
maxReceiveCount: a request that never ran reached the dead-letter queue and ended `failed`; and the
reaper's re-publishing of long-queued rows added duplicates. Now a hand-back publishes a fresh
message, a dead letter re-queues a request that never ran, and a running request is never failed
by a dead letter (docs/database.md, "What can go wrong").

Real PostgreSQL, moto's SQS with the template's redrive policy (maxReceiveCount 5), the execute
function's record handlers; the engine is a fake (the drill is about delivery, not phases).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import boto3
import pytest
from moto import mock_aws
from testgenie.db import Database
from testgenie.entrypoints.sqs import DeadLetterRecordHandler, QueueRecordHandler, process_batch
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.service import SuiteExecutionService
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.queue.publisher import SqsPublisher
from testgenie.queue.service import SuiteRequestService
from testgenie_local.poller import sqs_event
from testgenie_local.polling import wait_for

from tests.support.context import FakeLambdaContext
from tests.support.drills import TERMINAL, request_states
from tests.support.engine import FakeEngine
from tests.support.services import suite_requests

BACKLOG = 200
MAX_RECEIVES = 5
MAX_ATTEMPTS = 3
RUNS_PER_BATCH = 6  # of 10: four of every batch are handed back


def short_on_time() -> FakeLambdaContext:
    """A Lambda context with time for RUNS_PER_BATCH records: the rest of each batch is handed back."""
    return FakeLambdaContext(remaining_ms=[899_000] * RUNS_PER_BATCH + [30_000])


class Queues:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.dlq_url = self.sqs.create_queue(QueueName="drill-dlq")["QueueUrl"]
        self.dlq_arn = self._arn(self.dlq_url)
        redrive = json.dumps({"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": MAX_RECEIVES})
        self.url = self.sqs.create_queue(
            QueueName="drill", Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "30"}
        )["QueueUrl"]
        self.arn = self._arn(self.url)

    def _arn(self, url: str) -> str:
        return str(
            self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        )

    def deliver(self, url: str, arn: str, handle: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
        """One receive of up to 10 messages, handled as Lambda would; successes are deleted."""
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            return 0
        event = sqs_event(messages, arn, "us-east-1")
        failed = {item["itemIdentifier"] for item in handle(event)["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield Queues()


@pytest.mark.timeout(480)
def test_a_backlog_with_hand_backs_and_re_publishes_runs_every_request_once(
    database_url: str, queues: Queues
) -> None:
    db = Database(database_url)
    publisher = SqsPublisher(queues.url, queues.sqs)
    # requeue_after 1 s: the reaper re-publishes nearly every queued row of the backlog (duplicates).
    requests: SuiteRequestService = suite_requests(
        db, publisher, max_attempts=MAX_ATTEMPTS, requeue_after_seconds=1, lease_seconds=120
    )
    engine = FakeEngine()
    executions = SuiteExecutionService(engine, db, requests, SuiteExecutionRepository())
    ids = [
        str(requests.queue(QueueSuiteRequestInput(scenario_name="rel-backlog", phases=["structure"]))[0].id)
        for _ in range(BACKLOG)
    ]

    handed_back = 0

    def republish(request_id: UUID) -> bool:
        nonlocal handed_back
        handed_back += 1
        return requests.republish(request_id)

    def work(event: dict[str, Any]) -> dict[str, Any]:
        handler = QueueRecordHandler(lambda: executions, short_on_time(), 60_000, republish=republish)
        response = process_batch(event, None, handler)
        requests.hand_back(handler.handed_back)
        return response

    def dead_letters(event: dict[str, Any]) -> dict[str, Any]:
        return process_batch(event, None, DeadLetterRecordHandler(lambda: requests))

    rounds = 0

    def drained() -> dict[str, dict[str, Any]] | None:
        nonlocal rounds
        rounds += 1
        queues.deliver(queues.url, queues.arn, work)
        queues.deliver(queues.dlq_url, queues.dlq_arn, dead_letters)
        if rounds % 10 == 0:
            requests.reap_expired()
        states = request_states(database_url, ids)
        return states if all(s["status"] in TERMINAL for s in states.values()) else None

    final = wait_for(drained, 420, "every request of the backlog to end", interval=0)

    wrongly_failed = [i for i, s in final.items() if s["status"] == "failed" and s["attempts"] < MAX_ATTEMPTS]
    assert wrongly_failed == [], f"{len(wrongly_failed)} failed without running {MAX_ATTEMPTS} times"
    assert {s["status"] for s in final.values()} == {"completed"}
    assert all(s["executions"] == 1 for s in final.values())
    assert len(engine.executed) == BACKLOG  # no run twice
    assert handed_back >= BACKLOG // 2  # the drill did hand back, many times
    print("backlog drill:", {"requests": BACKLOG, "rounds": rounds, "handed_back": handed_back})
    db.close()
