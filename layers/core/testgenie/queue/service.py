"""SuiteRequestService: queue, read, claim, finish, cancel and reap suite requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from testgenie.db import Connection, Transactions
from testgenie.errors import CommitOutcomeUnknownError, ConflictError, NotFoundError, ValidationError
from testgenie.models_base import Clock, utc_now
from testgenie.observability import logger
from testgenie.orchestrator.models import Outcome, PhaseResult, PhaseStatus, SuitePlan
from testgenie.orchestrator.planning.catalog import SCENARIO_NAME_REQUIRED
from testgenie.paging import Keyset, encode_cursor
from testgenie.queue.models import (
    REQUEST_NOT_FOUND,
    SUITE_REQUESTS_CURSOR,
    TERMINAL,
    Claim,
    QueueSuiteRequestInput,
    SuiteRequest,
    SuiteRequestFilter,
    SuiteRequestSnapshot,
    SuiteRequestStatus,
    checked_idempotency_key,
    normalize_coverage,
    normalize_priority,
    normalize_types,
)
from testgenie.queue.publisher import SuiteRequestPublisher
from testgenie.queue.store import SuiteRequestStore
from testgenie.records import (
    ExecutionWriter,
    SuiteExecutionRecord,
    Trigger,
    execution_id_for,
    failed_record,
    progress_of,
)
from testgenie.retrying import retry_transient

_REAP_BATCH = 100


@dataclass
class ReapReport:
    requeued: list[UUID] = field(default_factory=list)
    failed: list[UUID] = field(default_factory=list)
    cancelled: list[UUID] = field(default_factory=list)
    republished: list[UUID] = field(default_factory=list)


class SuiteRequestService:
    def __init__(
        self,
        db: Transactions,
        requests: SuiteRequestStore,
        executions: ExecutionWriter,
        publisher: SuiteRequestPublisher,
        *,
        lease_seconds: int = 960,
        max_attempts: int = 3,
        requeue_after_seconds: int = 300,
        plan_validator: Callable[[SuitePlan], object] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """Every port is a parameter (testgenie/bootstrap.py passes them); nothing is built here."""
        self._db = db
        self._requests = requests
        self._executions = executions
        self._publisher = publisher
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._requeue_after = requeue_after_seconds
        # The engine's plan(): a plan that can never run is a 400 at queue time, as for POST /executions.
        self._validate_plan = plan_validator
        self._clock = clock

    # -- queueing ---------------------------------------------------------------------------------

    def queue(
        self,
        payload: QueueSuiteRequestInput,
        trigger: Trigger = Trigger.API,
        idempotency_key: str | None = None,
        rerun_of: UUID | None = None,
    ) -> tuple[SuiteRequest, bool]:
        """Validate, insert, then publish after commit. Returns (request, created).

        A publish that fails leaves the row queued; the reaper re-publishes queued rows older than
        REQUEUE_AFTER_SECONDS, so no row is ever stranded and no message ever lacks its row.
        """
        key = checked_idempotency_key(idempotency_key)
        request = build_suite_request(payload, trigger, rerun_of, now=self._clock())
        if self._validate_plan is not None:
            self._validate_plan(request.execution_request())

        def insert(conn: Connection) -> tuple[SuiteRequest, bool]:
            return self._requests.insert(conn, request, key)

        try:
            stored, created = self._db.run(insert)
        except CommitOutcomeUnknownError:  # read back: stored means created; absent means never committed
            found = self._db.run_statement(lambda conn: self._requests.get(conn, request.id))
            stored, created = (found, True) if found is not None else self._db.run(insert)
        if created:
            self._publish([stored.id])
        return stored, created

    def _publish(self, ids: list[UUID]) -> list[UUID]:
        try:
            failed = self._publisher.publish(ids)
        except Exception:  # the row is committed; the reaper retries the publish later
            logger.exception("publishing suite requests failed; the reaper will re-publish them")
            return []
        if failed:
            logger.warning("some suite requests were not published", extra={"ids": [str(i) for i in failed]})
        return [i for i in ids if i not in failed]

    def republish(self, request_id: UUID) -> bool:
        """A fresh message for a request (a hand-back): its receive count starts again, so handing
        back never walks a request toward the dead-letter queue. False when it could not be sent."""
        return bool(self._publish([request_id]))

    def hand_back(self, receipt_handles: list[str], visibility_timeout: int = 0) -> None:
        """Received messages to see again in `visibility_timeout` seconds instead of after the queue's
        (90-minute) visibility timeout: records this invocation had no time for, or that failed for a
        transient reason (a short backoff, docs/api.md). Best effort."""
        if not receipt_handles:
            return
        try:
            self._publisher.release(receipt_handles, visibility_timeout)
        except Exception:  # they still come back, only later
            logger.exception("could not hand records back early; they return after the visibility timeout")

    # -- reads ------------------------------------------------------------------------------------

    def get(self, request_id: UUID) -> SuiteRequest:
        found = self._db.run_statement(lambda conn: self._requests.get(conn, request_id))
        if found is None:
            raise NotFoundError(REQUEST_NOT_FOUND)
        return found

    def list(
        self, query: SuiteRequestFilter | None = None, keyset: Keyset | None = None
    ) -> tuple[list[SuiteRequest], str | None]:
        """A page newest first, and the cursor of the next page (None on the last)."""
        query, keyset = query or SuiteRequestFilter(), keyset or Keyset()
        rows = self._db.run_statement(lambda conn: self._requests.list_recent(conn, query, keyset))
        page = rows[: keyset.limit]
        more = len(rows) > keyset.limit
        return page, encode_cursor(SUITE_REQUESTS_CURSOR, page[-1].created_at, page[-1].id) if more else None

    def snapshot(self) -> SuiteRequestSnapshot:
        def work(conn: Connection) -> SuiteRequestSnapshot:
            counts = self._requests.status_counts(conn)
            oldest = self._requests.oldest_claimable_created_at(conn)
            return SuiteRequestSnapshot(total=sum(counts.values()), oldest_queued_at=oldest, **counts)

        return self._db.run(work)

    # -- a worker's life --------------------------------------------------------------------------

    def claim(self, request_id: UUID, *, deadline: float | None = None) -> Claim | None:
        """Atomically take a queued request; None when it is missing or not claimable.

        A claim whose answer was lost may have committed: it is read back by its claim id (retried
        through a short outage, until `deadline`), so the request never waits out a lease for nothing.
        """
        claim_id = uuid4()

        def take() -> Claim | None:
            return self._db.run_statement(
                lambda conn: self._requests.claim(conn, request_id, self.lease_seconds, claim_id),
                idempotent=False,
            )

        try:
            return take()
        except CommitOutcomeUnknownError:
            mine = retry_transient(
                lambda: self._db.run_statement(
                    lambda conn: self._requests.claimed(conn, request_id, claim_id)
                ),
                what="reading back a claim whose answer was lost",
                deadline=deadline,
            )
            return mine if mine is not None else take()

    def claim_durable(self, request_id: UUID, execution_arn: str) -> Claim | None:
        """The claim of one durable execution, safe to repeat: the same execution gets the same claim
        (its id is derived from the ARN), so a claim step retried after a lost answer never loses the
        request it took, and never takes it twice. None when the request is not claimable."""
        claim_id = uuid5(NAMESPACE_URL, execution_arn)

        def take() -> Claim | None:
            return self._db.run_statement(
                lambda conn: self._requests.claim_durable(
                    conn, request_id, self.lease_seconds, claim_id, execution_arn
                )
            )

        try:
            return take()
        except CommitOutcomeUnknownError:
            return take()

    def fail_unstarted(self, request_id: UUID, reason: str) -> bool:
        """queued|delegated -> failed with an execution row saying why (a run that can never start);
        False when the request was claimed or ended meanwhile."""

        def work(conn: Connection) -> bool:
            failed = self._requests.fail_unclaimed(conn, request_id, {"error": reason}, reason)
            if failed is None:
                return False
            if failed.execution_id is None:
                record = _terminal_record(failed, Outcome.ERRORED, reason, failed.trigger)
                self._executions.create(conn, record.model_copy(update={"id": execution_id_for(request_id)}))
            return True

        return self._db.run(work)

    def durable_execution_arn(self, request_id: UUID) -> str | None:
        """The durable execution that claimed the request (None: none did, or not a durable run)."""
        return self._db.run_statement(lambda conn: self._requests.durable_execution_arn(conn, request_id))

    def record_stopped(
        self, request_id: UUID, reason: str, status: SuiteRequestStatus = SuiteRequestStatus.CANCELLED
    ) -> SuiteRequest:
        """A running request whose durable execution was stopped: `cancelled` (a cancel) or `failed`
        (interrupted), with the phases finished so far (its progress) and `reason`, in one transaction.
        A request that ended meanwhile (its record won the race) is returned as it is."""
        outcome = Outcome.CANCELLED if status is SuiteRequestStatus.CANCELLED else Outcome.ERRORED

        def work(conn: Connection) -> SuiteRequest:
            current = self._requests.get(conn, request_id)
            if current is None:
                raise NotFoundError(REQUEST_NOT_FOUND)
            if current.status is not SuiteRequestStatus.RUNNING:
                return current
            if not self._requests.release(conn, request_id, current.attempts, status, reason):
                found = self._requests.get(conn, request_id)
                assert found is not None
                return found
            if current.execution_id is None:
                record = _terminal_record(current, outcome, reason, current.trigger)
                # Under the id the durable run was to record (POST /executions named it in its 202).
                self._executions.create(conn, record.model_copy(update={"id": execution_id_for(request_id)}))
            ended = self._requests.get(conn, request_id)
            assert ended is not None
            return ended

        return retry_transient(lambda: self._db.run(work), what="recording a stopped execution")

    def record_progress(self, claim: Claim, progress: dict[str, Any]) -> bool:
        """Store progress and renew the lease; True when the run should stop (cancelled or stale)."""
        request_id = claim.request.id
        state = self._db.run_statement(
            lambda conn: self._requests.record_progress(
                conn, request_id, claim.token, progress, self.lease_seconds
            )
        )
        return state is None or state

    def finish(
        self, claim: Claim, record: SuiteExecutionRecord, *, deadline: float | None = None
    ) -> SuiteRequest:
        """Insert the execution and set the terminal status in ONE transaction, while the token is current.

        A transient failure is retried with backoff until `deadline`: a worker holding a result keeps
        it through a short outage instead of letting the run repeat after its lease. A retry after a
        lost COMMIT finds its own execution already stored and returns it (the outcome was unknown).
        """
        status = terminal_status(record.outcome)
        progress = progress_of(record.phases, [p.name for p in record.phases], final=True)
        reason = reason_of(record)

        def work(conn: Connection) -> SuiteRequest:
            finished = self._requests.finish(conn, claim.request.id, claim.token, status, progress, reason)
            if finished is None:
                current = self._requests.get(conn, claim.request.id)
                if current is not None and current.execution_id == record.id:
                    return current  # an earlier try committed; only its answer was lost
                raise ConflictError(
                    f"suite request {claim.request.id} was taken over by a newer attempt; result discarded"
                )
            self._executions.create(conn, record)
            return finished.model_copy(update={"execution_id": record.id})

        return retry_transient(lambda: self._db.run(work), what="recording the execution", deadline=deadline)

    # -- operators --------------------------------------------------------------------------------

    def cancel(self, request_id: UUID) -> SuiteRequest:
        def work(conn: Connection) -> SuiteRequest:
            cancelled = self._requests.cancel(conn, request_id)
            if cancelled is not None:
                return cancelled
            current = self._requests.get(conn, request_id)
            if current is None:
                raise NotFoundError(REQUEST_NOT_FOUND)
            raise ConflictError(f"suite request is already {current.status.value} and cannot be cancelled")

        try:
            return self._db.run(work)
        except CommitOutcomeUnknownError:  # read back: a cancel that committed answers as if it had
            current = self.get(request_id)
            if current.cancel_requested:
                return current
            return self._db.run(work)

    def dead_letter(self, request_id: UUID, reason: str) -> str:
        """A message that exhausted its receives. What happens depends on the row (docs/database.md):

        - terminal or unknown: nothing (`already-terminal`);
        - running: its worker holds a lease, or the reaper takes it back: untouched (`running`);
        - queued, dead-lettered fewer than MAX_ATTEMPTS times: published again (`requeued`): its
          receives were hand-backs or transient failures, and a run never happened;
        - queued and dead-lettered MAX_ATTEMPTS times already: failed with an execution row (`failed`).
        """

        def work(conn: Connection) -> str:
            row = self._requests.lock(conn, request_id)
            if row is None or row["status"] in TERMINAL:
                return "already-terminal"
            if row["status"] == SuiteRequestStatus.RUNNING.value:
                return "running"
            if row["dead_letters"] < self.max_attempts and not row["cancel_requested"]:
                self._requests.count_dead_letter(conn, request_id)
                return "requeued"
            text = f"{reason}; dead-lettered {row['dead_letters'] + 1} times without completing a run"
            failed = self._requests.fail_unclaimed(conn, request_id, {"error": text}, text)
            if failed is None:
                return "already-terminal"
            if failed.execution_id is None:
                self._executions.create(conn, _terminal_record(failed, Outcome.ERRORED, text, failed.trigger))
            return "failed"

        outcome = self._db.run(work)
        if outcome == "requeued" and not self.republish(request_id):
            logger.warning("a dead-lettered request could not be re-published; the reaper will", extra={})
        return outcome

    def reap_expired(self) -> ReapReport:
        """Expired leases: re-queue (attempts < max), fail (attempts = max) or honour a cancel.

        Rows are locked with SKIP LOCKED, so two reapers at once never handle the same row.
        Re-queued rows and stale queued rows are (re-)published after commit.
        """
        report = ReapReport()

        def work(conn: Connection) -> None:
            for row in self._requests.lock_expired(conn, _REAP_BATCH):
                request_id, token = row["id"], row["attempts"]
                if row["cancel_requested"]:
                    target, reason = SuiteRequestStatus.CANCELLED, "cancelled while its worker was lost"
                elif row["durable_execution_arn"]:
                    # A durable execution renews its lease before and after every phase; one that stops
                    # renewing ended (timed out, failed or stopped) without recording. Queued again it
                    # could never start: its name (the request id) is taken.
                    target = SuiteRequestStatus.FAILED
                    reason = "interrupted: its durable execution ended without recording a result"
                elif token >= self.max_attempts:
                    target = SuiteRequestStatus.FAILED
                    reason = f"the worker's lease expired on attempt {token} of {self.max_attempts}"
                else:
                    target, reason = SuiteRequestStatus.QUEUED, None
                if not self._requests.release(conn, request_id, token, target, reason):
                    continue
                if target is SuiteRequestStatus.QUEUED or reason is None:
                    report.requeued.append(request_id)
                    continue
                request = self._requests.get(conn, request_id)
                if request is not None and request.execution_id is None:
                    outcome = Outcome.TIMEOUT if target is SuiteRequestStatus.FAILED else Outcome.CANCELLED
                    record = _terminal_record(request, outcome, reason, request.trigger)
                    if row["durable_execution_arn"] and target is SuiteRequestStatus.FAILED:
                        # Interrupted, not out of time: under the id its durable run was to record.
                        update = {"id": execution_id_for(request_id), "outcome": Outcome.ERRORED}
                        record = record.model_copy(update=update)
                    self._executions.create(conn, record)
                (report.failed if target is SuiteRequestStatus.FAILED else report.cancelled).append(
                    request_id
                )
            requeued = set(report.requeued)
            stale = self._requests.touch_stale_queued(conn, self._requeue_after, _REAP_BATCH)
            report.republished.extend(i for i in stale if i not in requeued)

        self._db.run(work)
        self._publish(report.requeued + report.republished)
        if report.requeued or report.failed or report.cancelled or report.republished:
            logger.info(
                "reaped suite requests",
                extra={
                    "requeued": len(report.requeued),
                    "failed": len(report.failed),
                    "cancelled": len(report.cancelled),
                    "republished": len(report.republished),
                },
            )
        return report


def build_suite_request(
    payload: QueueSuiteRequestInput,
    trigger: Trigger,
    rerun_of: UUID | None = None,
    *,
    now: datetime | None = None,
) -> SuiteRequest:
    """Validation and defaults of a new suite request (docs/api.md), plus the plan fields."""
    scenario = payload.scenario_name.strip()
    if not scenario:
        raise ValidationError(SCENARIO_NAME_REQUIRED)
    now = now or utc_now()
    return SuiteRequest(
        id=uuid4(),
        scenario_name=scenario,
        requested_types=normalize_types(payload.requested_types),
        coverage_target=normalize_coverage(payload.coverage_target),
        priority=normalize_priority(payload.priority),
        status=SuiteRequestStatus.QUEUED,
        notes=payload.notes.strip() or None,
        preset=(payload.preset or "").strip() or None,
        phases=[p.strip() for p in payload.phases if p.strip()] if payload.phases else None,
        skip=[p.strip() for p in payload.skip if p.strip()] if payload.skip else None,
        fail_fast=payload.fail_fast,
        shards=payload.shards,
        trigger=trigger,
        rerun_of=rerun_of,
        created_at=now,
        updated_at=now,
    )


def reason_of(record: SuiteExecutionRecord) -> str | None:
    """Why a run did not pass, in one line for GET /suite-requests/{id} (None when it passed)."""
    if record.outcome is Outcome.PASSED:
        return None
    failed = [p.name for p in record.phases if p.status is PhaseStatus.FAILED]
    if record.outcome is Outcome.FAILED and failed:
        return f"phases failed: {', '.join(failed)}"[:500]
    last_warning = (record.warnings or [""])[-1]
    fallback = {
        Outcome.CANCELLED: "cancelled while it ran",
        Outcome.TIMEOUT: "the run reached its deadline",
        Outcome.ERRORED: "the execution errored",
        Outcome.FAILED: "the run failed",
    }[record.outcome]
    return (last_warning or fallback)[:500]


def terminal_status(outcome: Outcome) -> SuiteRequestStatus:
    if outcome is Outcome.PASSED:
        return SuiteRequestStatus.COMPLETED
    if outcome is Outcome.CANCELLED:
        return SuiteRequestStatus.CANCELLED
    return SuiteRequestStatus.FAILED


def _terminal_record(
    request: SuiteRequest, outcome: Outcome, reason: str, trigger: Trigger
) -> SuiteExecutionRecord:
    """An execution row for a run that never reported back, so history and metrics see it."""
    phases = [
        PhaseResult.model_validate(p) for p in (request.progress or {}).get("phases", []) if "name" in p
    ]
    return failed_record(
        scenario_name=request.scenario_name,
        reason=reason,
        started_at=request.created_at,
        outcome=outcome,
        phases=phases,
        suite_request_id=request.id,
        preset=request.preset,
        trigger=trigger,
        requested=request.execution_request().requested(),
    )
