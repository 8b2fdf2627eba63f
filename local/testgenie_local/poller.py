"""Behaves like Lambda's SQS event source mapping, against the local moto queues.

Per mapping: long-poll ReceiveMessage (batch size, batching window; the queue's own visibility
timeout), build the real-shaped SQS event, invoke the function, then delete what succeeded. With
`ReportBatchItemFailures` the answer's `batchItemFailures` stay on the queue and reappear after the
visibility timeout; an exception (or an answer naming an unknown or empty item) fails the whole
batch. Moving a message to the dead-letter queue after `maxReceiveCount` receives is the queue's own
redrive (moto does it on receive, as SQS does).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testgenie_local.runtime import FunctionRuntime
from testgenie_local.template import SqsSource

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("testgenie.local.poller")
MAX_RECEIVE = 10  # ReceiveMessage returns at most 10 messages per call


def sqs_event(messages: list[MessageTypeDef], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds for a batch of SQS messages."""
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes", {}))
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    key: attributes[key]
                    for key in (
                        "ApproximateReceiveCount",
                        "SentTimestamp",
                        "SenderId",
                        "ApproximateFirstReceiveTimestamp",
                        "SequenceNumber",
                        "MessageGroupId",
                        "MessageDeduplicationId",
                        "AWSTraceHeader",
                    )
                    if key in attributes
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": list(value.get("StringListValues", [])),
                        "binaryListValues": list(value.get("BinaryListValues", [])),
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def failed_ids(result: Any, message_ids: list[str], report_failures: bool) -> set[str]:
    """Which messages stay on the queue after an answer (Lambda's partial batch response rules)."""
    if not report_failures:
        return set()
    if result is None or not isinstance(result, dict):
        return set()
    items = result.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return set(message_ids)
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)  # an invalid answer fails the whole batch
        failed.add(str(identifier))
    return failed


@dataclass
class PollStats:
    batches: int = 0
    deleted: int = 0
    failed: int = 0
    errors: int = 0
    history: list[tuple[int, int]] = field(default_factory=list)  # (batch size, failures) per invoke


class EventSourceMapping:
    """One SQS -> function mapping with `concurrency` polling threads."""

    def __init__(
        self,
        *,
        runtime: FunctionRuntime,
        source: SqsSource,
        sqs: Callable[[], SQSClient],
        queue_url: str,
        queue_arn: str,
        region: str = "us-east-1",
        concurrency: int = 1,
        wait_seconds: int = 1,
    ) -> None:
        self.runtime = runtime
        self.source = source
        self._sqs_factory = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.concurrency = max(1, concurrency)
        # Short long-polls so that shutdown is prompt; the queue itself is long-polled in a loop.
        self.wait_seconds = max(0, min(20, wait_seconds))
        self.stats = PollStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{self.runtime.name}.{self.source.event_name}"

    def start(self) -> None:
        if not self.source.enabled:
            return
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._run, name=f"poller-{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        client = self._sqs_factory()
        while not self._stop.is_set():
            try:
                self.poll_once(client)
            except Exception:
                if self._stop.is_set():  # shutting down: the queue may already be gone
                    log.debug("polling %s ended while stopping", self.name, exc_info=True)
                    return
                log.exception("polling %s failed", self.name)
                self._stop.wait(1.0)

    def receive_batch(self, client: SQSClient) -> list[MessageTypeDef]:
        """Up to BatchSize messages, gathering for at most MaximumBatchingWindowInSeconds."""
        batch: list[MessageTypeDef] = []
        window = self.source.batching_window_seconds
        deadline = time.monotonic() + window
        while not self._stop.is_set():
            wanted = min(MAX_RECEIVE, self.source.batch_size - len(batch))
            remaining = deadline - time.monotonic()
            wait = self.wait_seconds if not batch else max(0, min(self.wait_seconds, int(remaining)))
            response = client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            batch.extend(received)
            if not batch:
                return batch  # nothing yet: the caller polls again
            if len(batch) >= self.source.batch_size or time.monotonic() >= deadline:
                return batch
            if not received and wait == 0:
                self._stop.wait(0.05)
        return batch

    def poll_once(self, client: SQSClient | None = None) -> int:
        """One receive + invoke + delete cycle; returns how many messages were handled."""
        client = client or self._sqs_factory()
        messages = self.receive_batch(client)
        if not messages:
            return 0
        ids = [m["MessageId"] for m in messages]
        event = sqs_event(messages, self.queue_arn, self.region)
        try:
            result = self.runtime.invoke(event)
        except Exception:
            log.exception("%s raised on a batch of %d; the whole batch will be retried", self.name, len(ids))
            self._count(len(ids), len(ids), error=True)
            return len(ids)
        failed = failed_ids(result, ids, self.source.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), MAX_RECEIVE):
            chunk = done[start : start + MAX_RECEIVE]
            client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        self._count(len(ids), len(failed))
        return len(ids)

    def _count(self, size: int, failures: int, error: bool = False) -> None:
        with self._lock:
            self.stats.batches += 1
            self.stats.deleted += size - failures
            self.stats.failed += failures
            self.stats.errors += int(error)
            self.stats.history.append((size, failures))
