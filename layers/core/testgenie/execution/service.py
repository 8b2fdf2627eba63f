"""SuiteExecutionService: validate, claim, run, record and finalize one suite execution.

The flow of docs/architecture.md: the plan is validated before the request is claimed, the
claim is one atomic statement, the execution id exists before phases start, the record and the
request's terminal status commit in one transaction, and a run that dies still leaves a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from testgenie.db import Connection, Transactions
from testgenie.errors import ConflictError, NotFoundError, TestGenieError, ValidationError
from testgenie.execution.store import ExecutionStore
from testgenie.models_base import Clock, utc_now
from testgenie.observability import logger
from testgenie.orchestrator.models import (
    Outcome,
    PhaseResult,
    SuiteExecutionResult,
    SuitePlan,
)
from testgenie.orchestrator.run.engine_protocol import SuiteEngine
from testgenie.queue.models import CLAIMABLE, REQUEST_NOT_FOUND, Claim, SuiteRequest
from testgenie.queue.service import SuiteRequestService
from testgenie.records import SuiteExecutionRecord, Trigger, failed_record, progress_of
from testgenie.retrying import retry_transient

# Time kept for the final writes after a run's deadline, retried with backoff through a short outage;
# within the margin the handlers keep free at the end of an invocation (entrypoints/deadline.py).
FINAL_WRITE_SECONDS = 8.0


@dataclass(frozen=True)
class SuiteExecutionInput:
    request: SuitePlan
    suite_request_id: UUID | None = None
    trigger: Trigger = Trigger.API


class SuiteExecutionService:
    def __init__(
        self,
        engine: SuiteEngine,
        db: Transactions,
        suite_requests: SuiteRequestService,
        executions: ExecutionStore,
        *,
        clock: Clock = utc_now,
    ) -> None:
        """Every port is a parameter (testgenie/bootstrap.py passes them); nothing is built here."""
        self._engine = engine
        self._db = db
        self._suite_requests = suite_requests
        self._executions = executions
        self._clock = clock

    def validate_plan(self, request: SuitePlan) -> None:
        """ValidationError (400) naming the preset, phase or scenario when the plan can never run."""
        self._engine.plan(request)

    def execute(self, run: SuiteExecutionInput, *, deadline: float | None = None) -> SuiteExecutionResult:
        """Run now. Raises ValidationError (400), NotFoundError (404), ConflictError (409).

        `deadline` (time.monotonic()) stops the run early with outcome `timeout`, still recorded.
        """
        linked, request = self._linked(run)
        plan = self._engine.plan(request)  # a 400 here never touches the request's status
        claim: Claim | None = None
        if linked is not None:
            claim = self._suite_requests.claim(linked.id, deadline=deadline)
            if claim is None:
                raise self._not_claimable(linked.id)
        return self._run_and_record(request, plan.phases, claim, run.trigger, deadline)

    def check_startable(self, run: SuiteExecutionInput) -> SuiteRequest | None:
        """What execute() checks before it claims, without claiming: the linked request (None when
        unlinked) exists (404), matches the scenario and plan (400) and is claimable (409)."""
        linked, request = self._linked(run)
        self._engine.plan(request)
        if linked is not None and linked.status not in CLAIMABLE:
            raise self._not_claimable(linked.id)
        return linked

    def _linked(self, run: SuiteExecutionInput) -> tuple[SuiteRequest | None, SuitePlan]:
        if run.suite_request_id is None:
            return None, run.request
        linked = self._suite_requests.get(run.suite_request_id)
        if linked.scenario_name.lower() != run.request.scenario_name.strip().lower():
            raise ValidationError("suiteRequestId does not match scenarioName")
        return linked, linked_plan(linked, run.request)

    def execute_queued(
        self, suite_request_id: UUID, *, deadline: float | None = None
    ) -> SuiteExecutionResult | None:
        """Run the plan stored on a queued request (SQS path).

        Returns None when the request is unknown or no longer claimable (a duplicate or stale delivery).
        A plan that fails validation fails the request with an execution row saying why.
        """
        claim = self._suite_requests.claim(suite_request_id, deadline=deadline)
        if claim is None:
            return None
        request = claim.request.execution_request()
        try:
            plan = self._engine.plan(request)
        except ValidationError as exc:
            return self._record_claimed_failure(
                claim, request, Outcome.ERRORED, f"invalid plan: {exc.message}"
            )
        return self._run_and_record(request, plan.phases, claim, claim.request.trigger, deadline)

    def _not_claimable(self, request_id: UUID) -> TestGenieError:
        try:
            current = self._suite_requests.get(request_id)
        except NotFoundError:
            return NotFoundError(REQUEST_NOT_FOUND)
        return ConflictError(f"suite request is {current.status.value} and cannot be claimed")

    def _run_and_record(
        self,
        request: SuitePlan,
        planned: list[str],
        claim: Claim | None,
        trigger: Trigger,
        deadline: float | None,
    ) -> SuiteExecutionResult:
        execution_id = uuid4()
        started_at = self._clock()
        seen: list[PhaseResult] = []
        stop_requested = False

        def on_progress(results: list[PhaseResult], names: list[str]) -> None:
            nonlocal stop_requested
            seen[:] = results
            if claim is not None:
                try:
                    stop_requested = self._suite_requests.record_progress(claim, progress_of(results, names))
                except TestGenieError:  # progress is best effort; the final write decides
                    logger.warning("could not record progress", extra={"execution_id": str(execution_id)})

        try:
            result = self._engine.execute(
                request,
                execution_id,
                on_progress=on_progress,
                should_stop=lambda: stop_requested,
                deadline=deadline,
            )
        except Exception as exc:  # an engine fault still leaves a row and a terminal status
            logger.exception("suite execution errored", extra={"execution_id": str(execution_id)})
            result = failed_record(
                scenario_name=request.scenario_name,
                reason=f"execution errored: {exc}",
                started_at=started_at,
                phases=seen,
                execution_id=execution_id,
                preset=request.preset,
            ).to_execution_result()
        if claim is not None:
            result = result.model_copy(update={"suite_request_id": claim.request.id})
        record = SuiteExecutionRecord.from_result(result, trigger=trigger, requested=request.requested())
        write_deadline = deadline + FINAL_WRITE_SECONDS if deadline is not None else None
        if claim is not None:
            self._suite_requests.finish(claim, record, deadline=write_deadline)
        else:
            self._store(record, write_deadline)
        logger.info(
            "suite execution recorded",
            extra={
                "execution_id": str(execution_id),
                "outcome": result.outcome.value,
                "planned": len(planned),
            },
        )
        return result

    def _store(self, record: SuiteExecutionRecord, deadline: float | None) -> None:
        """An unlinked execution, retried through a short outage; a retry after a lost COMMIT finds
        the row already stored."""

        def work(conn: Connection) -> None:
            if self._executions.get_by_id(conn, record.id) is None:
                self._executions.create(conn, record)

        retry_transient(lambda: self._db.run(work), what="recording the execution", deadline=deadline)

    def _record_claimed_failure(
        self, claim: Claim, request: SuitePlan, outcome: Outcome, reason: str
    ) -> SuiteExecutionResult:
        record = failed_record(
            scenario_name=request.scenario_name,
            reason=reason,
            started_at=self._clock(),
            outcome=outcome,
            suite_request_id=claim.request.id,
            preset=request.preset,
            trigger=claim.request.trigger,
            requested=request.requested(),
        )
        self._suite_requests.finish(claim, record)
        return record.to_execution_result()


def linked_plan(linked: SuiteRequest, body: SuitePlan) -> SuitePlan:
    """The plan a linked run runs: the one stored on the request. A body that names a different plan
    is refused (400), so a queued `comprehensive` request can never be completed by a smaller run."""
    stored = linked.execution_request()
    if not (body.preset or "").strip() and not body.phases and not body.skip:
        return stored
    if _plan_key(body) != _plan_key(stored):
        raise ValidationError(
            f"suiteRequestId: the request was queued with {_describe_plan(stored)}, not {_describe_plan(body)};"
            " send no preset, phases or skip to run the queued plan"
        )
    return stored


def _plan_key(request: SuitePlan) -> tuple[str, list[str], list[str]]:
    def names(values: list[str] | None) -> list[str]:
        return [v.strip().lower() for v in values or [] if v.strip()]

    return ((request.preset or "").strip().lower(), names(request.phases), sorted(set(names(request.skip))))


def _describe_plan(request: SuitePlan) -> str:
    preset, phases, skip = _plan_key(request)
    parts = [
        f"phases {', '.join(phases)}" if phases else f"preset '{preset}'" if preset else "the default plan"
    ]
    if skip:
        parts.append(f"skip {', '.join(skip)}")
    return " and ".join(parts)[:300]
