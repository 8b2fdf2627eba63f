"""Publishing suite request ids to SQS. The message carries only the id: the plan lives on the row."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SuiteRequestPublisher(Protocol):
    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        """Send one message per id; returns the ids that could NOT be sent."""
        ...

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        """Make received messages visible again in `visibility_timeout` seconds (not after the
        queue's visibility timeout)."""
        ...


def message_body(request_id: UUID) -> str:
    return json.dumps({"suiteRequestId": str(request_id)})


class SqsPublisher:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self._queue_url = queue_url
        self._client = client

    def _sqs(self) -> SQSClient:
        if self._client is None:
            import boto3  # lazily: the history function never pays for boto3

            self._client = boto3.client("sqs")
        return self._client

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        ids = list(request_ids)
        failed: list[UUID] = []
        for start in range(0, len(ids), 10):  # SendMessageBatch takes at most 10 entries
            chunk = ids[start : start + 10]
            response = self._sqs().send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "MessageBody": message_body(rid)} for i, rid in enumerate(chunk)],
            )
            failed.extend(chunk[int(entry["Id"])] for entry in response.get("Failed", []))
        return failed

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        handles = list(receipt_handles)
        for start in range(0, len(handles), 10):  # ChangeMessageVisibilityBatch takes at most 10
            chunk = handles[start : start + 10]
            self._sqs().change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": visibility_timeout}
                    for i, handle in enumerate(chunk)
                ],
            )


class NullPublisher:
    """No queue configured (synchronous-only deployments, tests): every id counts as published."""

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        return []

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        return None
