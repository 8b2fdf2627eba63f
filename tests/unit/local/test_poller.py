from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from testgenie_local.aws import LocalAws
from testgenie_local.poller import EventSourceMapping, failed_ids, sqs_event
from testgenie_local.runtime import FunctionRuntime
from testgenie_local.template import FunctionSpec, SqsSource


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


class Recorder:
    """A tiny handler: fails records whose body starts with 'fail', raises on 'raise'."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        if any(r["body"] == "raise" for r in event["Records"]):
            raise RuntimeError("whole batch")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("fail")
            ]
        }


def _queues(aws: LocalAws, visibility: int = 0, max_receive: int = 2) -> tuple[str, str, str]:
    sqs = aws.sqs()
    name = f"q{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq


def _mapping(aws: LocalAws, handler: Recorder, url: str, arn: str, **source: Any) -> EventSourceMapping:
    spec = FunctionSpec(
        "Fn", code_uri=__import__("pathlib").Path("."), handler="m.h", timeout_seconds=5, environment={}
    )
    settings = {"event_name": "Q", "queue": "Q", "report_batch_item_failures": True, **source}
    return EventSourceMapping(
        runtime=FunctionRuntime(spec, handler),
        source=SqsSource(**settings),
        sqs=aws.sqs,
        queue_url=url,
        queue_arn=arn,
        wait_seconds=0,
    )


def _count(aws: LocalAws, url: str) -> int:
    attrs = aws.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_failed_ids_follow_lambda_rules() -> None:
    ids = ["a", "b", "c"]
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids, True) == {"b"}
    assert failed_ids({"batchItemFailures": []}, ids, True) == set()
    assert failed_ids(None, ids, True) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids, True) == set(ids)
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids, True) == set(ids)
    assert failed_ids({"batchItemFailures": "nope"}, ids, True) == set(ids)
    # Without ReportBatchItemFailures the answer is ignored: success deletes everything.
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids, False) == set()


def test_event_records_have_the_real_shape(moto_server: LocalAws) -> None:
    url, arn, _ = _queues(moto_server)
    sqs = moto_server.sqs()
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"suiteRequestId": "x"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    messages = sqs.receive_message(
        QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    record = sqs_event(messages, arn, "us-east-1")["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["body"] == '{"suiteRequestId": "x"}'
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert record["md5OfBody"]
    assert record["messageId"]
    assert record["receiptHandle"]


def test_successes_are_deleted_and_failures_reappear_then_go_to_the_dlq(moto_server: LocalAws) -> None:
    url, arn, dlq = _queues(moto_server, visibility=0, max_receive=2)
    sqs = moto_server.sqs()
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    handler = Recorder()
    mapping = _mapping(moto_server, handler, url, arn, batch_size=10)

    _wait_for(lambda: mapping.poll_once() == 3 or sum(len(e["Records"]) for e in handler.events) >= 3)
    # Only the failed message is left on the queue.
    _wait_for(lambda: _count(moto_server, url) == 1)
    # Receive #2: it fails again; on the next receive the queue's redrive moves it to the DLQ.
    _wait_for(lambda: mapping.poll_once() == 1)
    _wait_for(lambda: (mapping.poll_once(), _count(moto_server, dlq))[1] == 1)
    assert _count(moto_server, url) == 0
    bodies = [r["body"] for e in handler.events for r in e["Records"]]
    assert sorted(bodies) == ["fail-1", "fail-1", "ok-1", "ok-2"]
    counts = [
        r["attributes"]["ApproximateReceiveCount"]
        for e in handler.events
        for r in e["Records"]
        if r["body"] == "fail-1"
    ]
    assert counts == ["1", "2"]


def test_an_exception_fails_the_whole_batch(moto_server: LocalAws) -> None:
    url, arn, _ = _queues(moto_server, visibility=0, max_receive=5)
    sqs = moto_server.sqs()
    for body in ("ok", "raise"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    handler = Recorder()
    mapping = _mapping(moto_server, handler, url, arn, batch_size=10)
    assert mapping.poll_once() == 2
    assert mapping.stats.errors == 1
    # Nothing was deleted: every message of the failed batch stays on the queue and comes back.
    assert mapping.stats.deleted == 0
    assert _count(moto_server, url) == 2


def test_batch_size_and_window_bound_each_invocation(moto_server: LocalAws) -> None:
    url, arn, _ = _queues(moto_server, visibility=30, max_receive=5)
    sqs = moto_server.sqs()
    for index in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=f"ok-{index}")
    handler = Recorder()
    mapping = _mapping(moto_server, handler, url, arn, batch_size=3, batching_window_seconds=1)
    _wait_for(lambda: (mapping.poll_once(), _count(moto_server, url))[1] == 0)
    sizes = [len(e["Records"]) for e in handler.events]
    assert sum(sizes) == 7
    assert max(sizes) <= 3
    assert sizes.count(3) >= 1  # the window gathers a full batch when messages are there


def test_threads_poll_until_stopped(moto_server: LocalAws) -> None:
    url, arn, _ = _queues(moto_server, visibility=30)
    handler = Recorder()
    mapping = _mapping(moto_server, handler, url, arn, batch_size=2)
    mapping.concurrency = 2
    mapping.start()
    try:
        sqs = moto_server.sqs()
        for index in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=f"ok-{index}")
        _wait_for(lambda: mapping.stats.deleted == 5)
    finally:
        mapping.stop()
    assert all(not t.is_alive() for t in mapping._threads)


@pytest.mark.parametrize("enabled", [False])
def test_a_disabled_mapping_does_not_poll(moto_server: LocalAws, enabled: bool) -> None:
    url, arn, _ = _queues(moto_server)
    mapping = _mapping(moto_server, Recorder(), url, arn, enabled=enabled)
    mapping.start()
    assert mapping._threads == []
