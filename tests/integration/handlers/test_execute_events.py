"""ExecuteFunction's SQS, dead-letter and scheduler paths on a real PostgreSQL and moto SQS (DESIGN §6)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from testgenie.db import Database
from testgenie.entrypoints.deadline import SAFETY_MARGIN_MS
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.orchestrator.models import Outcome, SuiteExecutionResult
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.queue.publisher import SqsPublisher
from testgenie.records import Trigger

from tests.support.context import FakeLambdaContext
from tests.support.engine import FakeEngine
from tests.support.events import load, sqs_event, sqs_record
from tests.support.handlers import HandlerServices, NoFreshMessages, Queues, RecordingPublisher
from tests.support.records import make_record
from tests.support.services import services, suite_requests

DEAD_DATABASE = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"


def _queue(db: Database, scenario: str = "demo", **fields: object) -> UUID:
    payload = QueueSuiteRequestInput.model_validate({"scenarioName": scenario, **fields})
    request, _ = suite_requests(db).queue(payload)
    return request.id


def _executions_of(db: Database, request_id: UUID) -> list[object]:
    record = db.run(lambda conn: SuiteExecutionRepository().get_by_request(conn, request_id))
    return [] if record is None else [record]


def test_mixed_batch_runs_the_valid_record_once_and_acknowledges_the_rest(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database, engine: FakeEngine
) -> None:
    request_id = _queue(db)
    event = sqs_event(
        "sqs_batch_mixed.json", VALID_ID=str(request_id), UNKNOWN_ID=str(uuid4()), QUEUE_ARN=env.arn
    )

    response = execute_app.lambda_handler(event, context)

    assert response == {"batchItemFailures": []}
    assert len(engine.executed) == 1  # the duplicate, malformed and unknown records ran nothing
    stored = suite_requests(db).get(request_id)
    assert stored.status is SuiteRequestStatus.COMPLETED
    assert stored.execution_id == engine.executed[0]
    assert stored.progress is not None
    assert stored.progress["completedPhases"] == 5


def test_a_transient_failure_is_reported_for_retry_and_malformed_records_are_not(
    env: Queues,
    execute_app: ModuleType,
    context: FakeLambdaContext,
    db: Database,
    handler_services: HandlerServices,
) -> None:
    request_id = _queue(db)
    event = sqs_event(
        "sqs_batch_mixed.json", VALID_ID=str(request_id), UNKNOWN_ID=str(uuid4()), QUEUE_ARN=env.arn
    )
    handler_services.rebuild(database_url=DEAD_DATABASE)

    response = execute_app.lambda_handler(event, context)

    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    ids = [r["messageId"] for r in event["Records"]]
    assert failed == {ids[0], ids[1], ids[4]}  # every well-formed record; never the malformed ones
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.QUEUED


def test_when_time_runs_out_the_rest_of_the_batch_is_handed_back(
    env: Queues, execute_app: ModuleType, db: Database, engine: FakeEngine
) -> None:
    """A hand-back publishes a fresh message and acknowledges the record: its receive count starts
    again, so handing back never walks a request toward the dead-letter queue."""
    ids = [_queue(db) for _ in range(3)]
    env.drain()
    records = [
        sqs_record(json.dumps({"suiteRequestId": str(i)}), env.arn, f"m{n}") for n, i in enumerate(ids)
    ]
    # Plenty for the first execution; then less than PHASE_TIMEOUT_SECONDS (60 s) plus the margin.
    context = FakeLambdaContext(remaining_ms=[899_000, 30_000])

    response = execute_app.lambda_handler({"Records": records}, context)

    assert response == {"batchItemFailures": []}
    statuses = [suite_requests(db).get(i).status for i in ids]
    assert statuses == [SuiteRequestStatus.COMPLETED, SuiteRequestStatus.QUEUED, SuiteRequestStatus.QUEUED]
    assert len(engine.executed) == 1
    assert sorted(m["suiteRequestId"] for m in env.drain()) == sorted(str(i) for i in ids[1:])


def test_the_first_record_runs_even_when_time_is_short(
    env: Queues, execute_app: ModuleType, db: Database
) -> None:
    request_id = _queue(db)
    records = [sqs_record(json.dumps({"suiteRequestId": str(request_id)}), env.arn, "only")]
    response = execute_app.lambda_handler({"Records": records}, FakeLambdaContext(remaining_ms=[20_000]))
    assert response == {"batchItemFailures": []}
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.COMPLETED


def test_an_invalid_stored_plan_fails_the_request_with_a_row(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    request_id = _queue(db, phases=["nope"])
    records = [sqs_record(json.dumps({"suiteRequestId": str(request_id)}), env.arn, "bad-plan")]
    assert execute_app.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}
    stored = suite_requests(db).get(request_id)
    assert stored.status is SuiteRequestStatus.FAILED
    assert stored.execution_id is not None


def test_a_dead_lettered_message_requeues_a_request_that_never_ran_then_fails_it(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database, engine: FakeEngine
) -> None:
    request_id = _queue(db)
    env.drain()
    event = sqs_event("sqs_dlq_record.json", VALID_ID=str(request_id), QUEUE_ARN=env.arn, DLQ_ARN=env.dlq_arn)
    max_attempts = suite_requests(db).max_attempts

    for _ in range(max_attempts):
        assert execute_app.lambda_handler(event, context) == {"batchItemFailures": []}
        assert suite_requests(db).get(request_id).status is SuiteRequestStatus.QUEUED
        assert env.drain() == [{"suiteRequestId": str(request_id)}]  # published again
    assert execute_app.lambda_handler(event, context) == {"batchItemFailures": []}
    assert execute_app.lambda_handler(event, context) == {"batchItemFailures": []}  # again: no change

    stored = suite_requests(db).get(request_id)
    assert stored.status is SuiteRequestStatus.FAILED
    assert stored.reason is not None
    assert "dead-letter queue" in stored.reason
    history = SuiteExecutionResult.model_validate_json(
        services(db).history.get(stored.execution_id)  # type: ignore[arg-type]
    )
    assert history.outcome is Outcome.ERRORED
    assert history.warnings is not None
    assert "dead-letter queue" in history.warnings[0]
    assert engine.executed == []
    assert len(_executions_of(db, request_id)) == 1


def test_a_dead_lettered_message_of_a_running_request_leaves_it_to_its_worker(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    request_id = _queue(db)
    claim = suite_requests(db).claim(request_id)
    assert claim is not None
    event = sqs_event("sqs_dlq_record.json", VALID_ID=str(request_id), QUEUE_ARN=env.arn, DLQ_ARN=env.dlq_arn)

    assert execute_app.lambda_handler(event, context) == {"batchItemFailures": []}

    stored = suite_requests(db).get(request_id)
    assert (stored.status, stored.attempts) == (SuiteRequestStatus.RUNNING, 1)
    assert _executions_of(db, request_id) == []


def test_a_dead_lettered_message_of_a_finished_request_changes_nothing(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    request_id = _queue(db)
    suite_requests(db).cancel(request_id)
    event = sqs_event("sqs_dlq_record.json", VALID_ID=str(request_id), QUEUE_ARN=env.arn, DLQ_ARN=env.dlq_arn)
    event["Records"].append(sqs_record("garbage", env.dlq_arn, "garbage"))
    assert execute_app.lambda_handler(event, context) == {"batchItemFailures": []}
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.CANCELLED


def test_scheduled_enqueue_is_idempotent_per_firing(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    event = load("schedule_enqueue.json")
    first = execute_app.lambda_handler(event, context)
    again = execute_app.lambda_handler(event, context)
    next_night = execute_app.lambda_handler({**event, "scheduledTime": "2025-03-11T02:00:00Z"}, context)

    assert (first["created"], again["created"], next_night["created"]) == (True, False, True)
    assert first["suiteRequestId"] == again["suiteRequestId"] != next_night["suiteRequestId"]
    stored = suite_requests(db).get(UUID(first["suiteRequestId"]))
    assert (stored.trigger, stored.preset, stored.scenario_name) == (
        Trigger.SCHEDULE,
        "comprehensive",
        "hello-python",
    )
    assert sorted(m["suiteRequestId"] for m in env.drain()) == sorted(
        [first["suiteRequestId"], next_night["suiteRequestId"]]
    )


def test_scheduled_enqueue_with_bad_input_reports_the_error(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext
) -> None:
    assert execute_app.lambda_handler({"action": "enqueue"}, context) == {
        "action": "enqueue",
        "error": "scenarioName is required",
    }
    answer = execute_app.lambda_handler({"action": "explode"}, context)
    assert answer["error"].startswith("invalid schedule input: action")


def test_scheduled_reap_requeues_expired_leases_and_is_safe_twice(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    request_id = _queue(db)
    env.drain()
    assert suite_requests(db, lease_seconds=60).claim(request_id) is not None
    db.run(
        lambda conn: conn.execute(
            "UPDATE suite_requests SET lease_expires_at = %s WHERE id = %s",
            (datetime.now(UTC) - timedelta(minutes=5), request_id),
        )
    )
    event = load("schedule_reap.json")

    first = execute_app.lambda_handler(event, context)
    second = execute_app.lambda_handler(event, context)

    assert (first["action"], first["requeued"], second["requeued"]) == ("reap", 1, 0)
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.QUEUED
    assert env.drain() == [{"suiteRequestId": str(request_id)}]


def test_an_unknown_event_is_refused(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext
) -> None:
    with pytest.raises(ValueError, match="unsupported event"):
        execute_app.lambda_handler({"detail-type": "Scheduled Event"}, context)


def test_metrics_are_emitted_as_emf(
    env: Queues,
    execute_app: ModuleType,
    context: FakeLambdaContext,
    db: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request_id = _queue(db)
    records = [
        sqs_record(json.dumps({"suiteRequestId": str(request_id)}), env.arn, "ok"),
        sqs_record("nonsense", env.arn, "bad"),
    ]
    capsys.readouterr()
    execute_app.lambda_handler({"Records": records}, context)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Executions", "PhaseDuration", "QueueLatency", "MalformedMessages"} <= names
    executions = next(b for b in blobs if "Executions" in b)
    assert executions["outcome"] == "passed"
    assert executions["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TestGenie"


def test_metrics_disabled_means_no_emf_at_all(
    env: Queues,
    execute_app: ModuleType,
    context: FakeLambdaContext,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    request_id = _queue(db)
    capsys.readouterr()

    answer = execute_app.lambda_handler(
        {"Records": [sqs_record(json.dumps({"suiteRequestId": str(request_id)}), env.arn, "ok")]}, context
    )

    assert answer == {"batchItemFailures": []}
    assert '"_aws"' not in capsys.readouterr().out


def test_a_run_must_end_before_the_invocation_does(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database, engine: FakeEngine
) -> None:
    request_id = _queue(db)
    context.remaining_ms = [60_000]
    before = time.monotonic()

    execute_app.lambda_handler(
        {"Records": [sqs_record(json.dumps({"suiteRequestId": str(request_id)}), env.arn, "ok")]}, context
    )

    [deadline] = engine.deadlines
    assert deadline is not None
    # 60 s left minus the margin kept for the final writes
    assert (
        before + 60 - SAFETY_MARGIN_MS / 1000 <= deadline <= time.monotonic() + 60 - SAFETY_MARGIN_MS / 1000
    )


def test_a_run_out_of_time_is_recorded_as_timeout(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    request_id = _queue(db)
    context.remaining_ms = [SAFETY_MARGIN_MS - 1]

    execute_app.lambda_handler(
        {"Records": [sqs_record(json.dumps({"suiteRequestId": str(request_id)}), env.arn, "ok")]}, context
    )

    stored = suite_requests(db).get(request_id)
    assert stored.status is SuiteRequestStatus.FAILED
    result = SuiteExecutionResult.model_validate_json(
        services(db).history.get(stored.execution_id)  # type: ignore[arg-type]
    )
    assert result.outcome is Outcome.TIMEOUT


def test_records_handed_back_are_visible_again_at_once_when_no_fresh_message_can_be_sent(
    env: Queues, execute_app: ModuleType, db: Database, handler_services: HandlerServices
) -> None:
    sqs = boto3.client("sqs")
    ids = [_queue(db) for _ in range(3)]
    env.drain()  # what the POSTs published; this test delivers its own messages
    handler_services.rebuild(publisher=NoFreshMessages(SqsPublisher(env.url)))
    records = _received_records(env, sqs, ids)

    response = execute_app.lambda_handler(
        {"Records": records}, FakeLambdaContext(remaining_ms=[899_000, 30_000])
    )

    handed_back = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert len(handed_back) == 2
    again = sqs.receive_message(QueueUrl=env.url, MaxNumberOfMessages=10)["Messages"]
    assert {m["MessageId"] for m in again} == handed_back  # not after the 5400 s visibility timeout


def test_a_transient_failure_comes_back_after_a_short_backoff(
    env: Queues, execute_app: ModuleType, db: Database, handler_services: HandlerServices
) -> None:
    """The database is gone for this delivery: the record is reported and visible again in 2 s,
    not after the queue's 90-minute visibility timeout."""
    sqs = boto3.client("sqs")
    ids = [_queue(db)]
    env.drain()
    records = _received_records(env, sqs, ids)
    publisher = RecordingPublisher(SqsPublisher(env.url))
    handler_services.rebuild(database_url=DEAD_DATABASE, publisher=publisher)

    response = execute_app.lambda_handler({"Records": records}, FakeLambdaContext(remaining_ms=[899_000]))

    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    assert publisher.releases == [([records[0]["receiptHandle"]], 2)]


def _received_records(env: Queues, sqs: Any, ids: list[UUID]) -> list[dict[str, Any]]:
    """The ids sent and received from the local queue (5400 s visibility), as real-shaped records."""
    for request_id in ids:
        sqs.send_message(QueueUrl=env.url, MessageBody=json.dumps({"suiteRequestId": str(request_id)}))
    received = sqs.receive_message(QueueUrl=env.url, MaxNumberOfMessages=10, VisibilityTimeout=5400)[
        "Messages"
    ]
    assert len(received) == len(ids)
    records = []
    for message in received:
        record = sqs_record(message["Body"], env.arn, message["MessageId"])
        record["receiptHandle"] = message["ReceiptHandle"]
        records.append(record)
    return records


def test_scheduled_prune_deletes_expired_runs_only_when_retention_is_on(
    env: Queues,
    execute_app: ModuleType,
    context: FakeLambdaContext,
    db: Database,
    handler_services: HandlerServices,
) -> None:
    old = make_record("demo", datetime.now(UTC) - timedelta(days=9))
    fresh = make_record("demo", datetime.now(UTC))
    for record in (old, fresh):
        db.run(partial(SuiteExecutionRepository().create, record=record))
    event = load("schedule_prune.json")

    off = execute_app.lambda_handler(event, context)
    handler_services.rebuild(retention_days=7)
    on = execute_app.lambda_handler(event, context)
    again = execute_app.lambda_handler(event, context)

    assert (off["action"], off["deleted"], off["cutoff"]) == ("prune", 0, None)
    assert (on["deleted"], again["deleted"]) == (1, 0)
    left = db.run(lambda conn: conn.execute("SELECT id FROM suite_executions").fetchall())
    assert [row["id"] for row in left] == [fresh.id]
