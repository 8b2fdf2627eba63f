"""SQS batches for the execute function (never imported by the history function).

docs/api.md: one message per suite request, body `{"suiteRequestId": "<uuid>"}`. Per record:
- malformed body            -> acknowledged and logged (retrying cannot fix it);
- duplicate / stale message -> acknowledged (the request is no longer claimable);
- TransientError            -> reported in batchItemFailures and visible again after a short backoff
                               (ChangeMessageVisibility), so SQS redelivers it in seconds;
- no time left for another execution -> handed back: a fresh message is published and the record
  acknowledged, so a hand-back never counts toward the queue's maxReceiveCount.
Records from the dead-letter queue re-queue a request that never ran, or fail it once that happened
MAX_ATTEMPTS times; a running request is left to its worker and the reaper (docs/database.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError

from testgenie.entrypoints.deadline import SAFETY_MARGIN_MS, run_deadline
from testgenie.errors import CommitOutcomeUnknownError, TestGenieError, TransientError
from testgenie.models_base import StrictBody
from testgenie.observability import logger, record_count, record_execution_metrics, record_queue_latency
from testgenie.retrying import retry_transient

if TYPE_CHECKING:
    from testgenie.execution.service import SuiteExecutionService
    from testgenie.queue.service import SuiteRequestService

# Seconds before a record that failed for a transient reason is received again: 2, 4, 8, 16, 32 s by
# receive count, so a short database outage costs seconds, not the queue's 90-minute visibility.
MAX_RETRY_BACKOFF_SECONDS = 60


def retry_backoff_seconds(receive_count: int) -> int:
    return int(min(2 ** max(1, receive_count), MAX_RETRY_BACKOFF_SECONDS))


class HandedBackError(Exception):
    """A record left unprocessed because the invocation could not fit another execution."""


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class SuiteRequestSqsMessage(StrictBody):
    model_config = ConfigDict(frozen=True)

    suite_request_id: UUID


class MalformedMessage(ValueError):
    """A message body this function cannot read; the text says why (it is logged with the body)."""


def read_message(body: str | None) -> UUID:
    """The suite request id of a message body (MalformedMessage naming the problem otherwise)."""
    try:
        data = json.loads(body or "")
    except ValueError:
        raise MalformedMessage("not JSON") from None
    try:
        return SuiteRequestSqsMessage.model_validate(data).suite_request_id
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise MalformedMessage(f"{field}: {first['msg']}" if field else str(first["msg"])) from None


def parse_message(body: str | None) -> UUID | None:
    """The suite request id of a message body, or None when the body is malformed."""
    try:
        return read_message(body)
    except MalformedMessage:
        return None


def _read_or_acknowledge(record: SQSRecord, kind: str) -> UUID | None:
    """The request id of a record, or None after logging and counting a malformed one (it is
    acknowledged: redelivering it could never succeed)."""
    try:
        return read_message(record.body)
    except MalformedMessage as exc:
        logger.error(
            f"malformed {kind} message acknowledged",
            extra={"reason": str(exc), "body": (record.body or "")[:500]},
        )
        record_count("MalformedMessages")
        return None


def is_dead_letter_batch(event: dict[str, Any], dlq_arn: str | None) -> bool:
    """True when the records come from the dead-letter queue (Settings.suite_request_dlq_arn)."""
    records = event.get("Records") or []
    return bool(dlq_arn) and any(r.get("eventSourceARN") == dlq_arn for r in records if isinstance(r, dict))


class QueueRecordHandler:
    """Handles the records of one invocation; state (executions started) lives for that invocation."""

    def __init__(
        self,
        executions: Callable[[], SuiteExecutionService],
        context: RemainingTime | None,
        execution_budget_ms: int,
        republish: Callable[[UUID], bool] | None = None,
    ) -> None:
        self._executions = executions
        self._context = context
        self._budget_ms = execution_budget_ms + SAFETY_MARGIN_MS
        self._republish = republish
        self._started = 0
        self.handed_back: list[str] = []  # receipt handles of records handed back without a new message
        self.retry_later: dict[int, list[str]] = {}  # backoff seconds -> receipt handles (transient)

    def _time_left_ms(self) -> int | None:
        if self._context is None:
            return None
        return int(self._context.get_remaining_time_in_millis())

    def __call__(self, record: SQSRecord) -> str:
        logger.append_keys(message_id=record.message_id)
        try:
            return self._handle(record)
        finally:
            logger.remove_keys(["message_id", "suite_request_id"])

    def _handle(self, record: SQSRecord) -> str:
        request_id = _read_or_acknowledge(record, "suite request")
        if request_id is None:
            return "malformed"
        logger.append_keys(suite_request_id=str(request_id))
        left = self._time_left_ms()
        if self._started and left is not None and left < self._budget_ms:
            # The first record always runs: a later invocation would have no more time than this one.
            if self._republish is not None and self._republish(request_id):
                logger.info("record handed back as a fresh message", extra={"time_left_ms": left})
                return "handed-back"
            self.handed_back.append(record.receipt_handle)
            raise HandedBackError(f"only {left} ms left; handing the record back to the queue")
        self._started += 1
        sent = record.attributes.sent_timestamp
        if sent and sent.isdigit():
            record_queue_latency(time.time() * 1000 - int(sent))
        try:
            result = self._executions().execute_queued(request_id, deadline=run_deadline(left))
        except TransientError as exc:
            backoff = retry_backoff_seconds(int(record.attributes.approximate_receive_count or 1))
            self.retry_later.setdefault(backoff, []).append(record.receipt_handle)
            logger.warning(
                "transient failure; the message will be retried",
                extra={"error": exc.message, "retry_in_s": backoff},
            )
            raise
        except TestGenieError as exc:  # e.g. taken over by a newer attempt: retrying changes nothing
            logger.warning(
                "suite request message acknowledged without a result", extra={"error": exc.message}
            )
            return "acknowledged"
        if result is None:
            self._started -= 1  # a duplicate ran nothing: the next record may still run in this invocation
            logger.info("duplicate or stale suite request message acknowledged")
            record_count("DuplicateMessages")
            return "duplicate"
        record_execution_metrics(result)
        return result.outcome.value


# How long one dead-lettered record is retried through a database outage inside its invocation. The
# dead-letter queue's visibility timeout is 90 minutes: a record reported failed comes back only then,
# so a short outage is waited out here instead, with backoff of at most retrying.MAX_DELAY_SECONDS
# (the record is handled within seconds of the database coming back; docs/database.md).
DEAD_LETTER_RETRY_SECONDS = 120


class DeadLetterRecordHandler:
    """A message that exhausted its deliveries: its request ends `failed`, with an execution row."""

    def __init__(
        self,
        suite_requests: Callable[[], SuiteRequestService],
        context: RemainingTime | None = None,
        retry_seconds: float = DEAD_LETTER_RETRY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._suite_requests = suite_requests
        self._context = context
        self._retry_seconds = retry_seconds
        self._sleep = sleep
        self._clock = clock
        self._database_down = False  # once a record gave up, the rest of the batch does not wait again

    def _deadline(self) -> float:
        """Now plus the retry budget, never past the invocation's end less the safety margin."""
        budget = 0.0 if self._database_down else self._retry_seconds
        if self._context is not None:
            left = (self._context.get_remaining_time_in_millis() - SAFETY_MARGIN_MS) / 1000
            budget = min(budget, max(0.0, left))
        return self._clock() + budget

    def _dead_letter(self, request_id: UUID, reason: str) -> str:
        # A lost COMMIT is not retried blindly: the record goes back to the queue and its next
        # delivery reads the row as it is (dead_letter counts each delivery it acts on).
        try:
            return retry_transient(
                lambda: self._suite_requests().dead_letter(request_id, reason),
                what="handling the dead-lettered message",
                deadline=self._deadline(),
                clock=self._clock,
                sleep=self._sleep,
                give_up_on=(CommitOutcomeUnknownError,),
            )
        except TransientError:
            self._database_down = True
            raise

    def __call__(self, record: SQSRecord) -> str:
        logger.append_keys(message_id=record.message_id)
        try:
            request_id = _read_or_acknowledge(record, "dead-letter")
            if request_id is None:
                return "malformed"
            receives = record.attributes.approximate_receive_count
            reason = (
                "the suite request's message could not be processed and was moved to the dead-letter queue"
                f" (received {receives} times)"
            )
            outcome = self._dead_letter(request_id, reason)
            record_count("DeadLetteredRequests", 1 if outcome == "failed" else 0)
            record_count("DeadLetterRequeues", 1 if outcome == "requeued" else 0)
            logger.warning(
                "dead-lettered suite request message",
                extra={"suite_request_id": str(request_id), "outcome": outcome},
            )
            return outcome
        finally:
            logger.remove_keys(["message_id"])


def process_batch(
    event: dict[str, Any], context: Any, record_handler: Callable[[SQSRecord], str]
) -> dict[str, Any]:
    """Partial batch response; a batch where every record failed is reported, not raised."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


class DurableStartRecordHandler:
    """A queued request starts its durable execution (named after it) and the record is acknowledged;
    a duplicate delivery finds the name taken (one execution per request). A start that failed for a
    transient reason is retried by SQS."""

    def __init__(self, start: Callable[[UUID], bool]) -> None:
        self._start = start

    def __call__(self, record: SQSRecord) -> str:
        logger.append_keys(message_id=record.message_id)
        try:
            request_id = _read_or_acknowledge(record, "suite request")
            if request_id is None:
                return "malformed"
            sent = record.attributes.sent_timestamp
            if sent and sent.isdigit():
                record_queue_latency(time.time() * 1000 - int(sent))
            if self._start(request_id):
                logger.info("durable execution started", extra={"suite_request_id": str(request_id)})
                return "started"
            record_count("DuplicateMessages")
            logger.info("durable execution already started", extra={"suite_request_id": str(request_id)})
            return "duplicate"
        finally:
            logger.remove_keys(["message_id"])
