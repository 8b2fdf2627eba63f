"""One suite execution as a Lambda durable function (docs/architecture.md, "Durable executions").

claim → plan → each phase (a chained invoke of RunnerFunction) with progress after it → the record.
Every effect is a step or an invoke, so a replay (after a suspension, a crash or a retry) repeats
none of them: a step that finished returns its checkpointed result, and only a step or phase that
was in flight when the invocation died runs again (at most once more; docs/architecture.md). The
loop itself is the orchestrator's (cancel, fail-fast, classification), unchanged. The database is
opened only inside steps and closed at the end of each, so no connection is held while a phase runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from aws_durable_execution_sdk_python import StepError

from testgenie.coordinator.execution_input import request_id_of
from testgenie.coordinator.phases import DurablePhases, PreparedRun, StepRunner
from testgenie.coordinator.shards import ShardSettings
from testgenie.errors import ConflictError, ValidationError
from testgenie.observability import logger
from testgenie.orchestrator.models import DEFAULT_MAX_SHARDS, PhaseResult, SuiteExecutionResult, SuitePlan
from testgenie.orchestrator.planning.plan import validate_scenario_name
from testgenie.orchestrator.run.engine import SuiteOrchestrator, plan_scenario
from testgenie.queue.models import Claim
from testgenie.records import SuiteExecutionRecord, execution_id_for, failed_record, progress_of
from testgenie.runner.coordinator import URL_LIFETIME_SECONDS

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python import DurableContext

    from testgenie.artifacts import ArtifactStore
    from testgenie.db import Transactions
    from testgenie.orchestrator.sources.base import ScenarioSource
    from testgenie.queue.service import SuiteRequestService

T = TypeVar("T")
# Kept free at the end of the execution's own timeout: the last phase is told to stop this early, so
# the record is written before the durable service ends the execution.
RECORD_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class CoordinatorDeps:
    requests: SuiteRequestService
    db: Transactions
    bundles: ScenarioSource
    artifacts: ArtifactStore
    runner_function: str
    default_phase_timeout: int
    execution_timeout_seconds: int
    shards: ShardSettings | None = None  # MaxShards, SHARD_TARGET_SECONDS, durations and the cache


def coordinate(event: Any, context: DurableContext, deps: CoordinatorDeps) -> dict[str, Any]:
    request_id = request_id_of(event)
    arn = context.state.durable_execution_arn
    step = _step_runner(context, deps)

    try:
        claimed = step(lambda: _claim(deps, request_id, arn), "claim")
    except StepError as exc:  # its retries spent: the request must not stay queued behind a dead run
        reason = f"interrupted: the request could not be claimed: {exc.message}"[:500]
        step(lambda: deps.requests.fail_unstarted(request_id, reason), "fail unclaimed")
        return {"suiteRequestId": str(request_id), "claimed": False, "error": reason}
    if claimed is None:
        logger.info(
            "suite request not claimable; nothing to run", extra={"suite_request_id": str(request_id)}
        )
        return {"suiteRequestId": str(request_id), "claimed": False}
    claim = Claim.model_validate(claimed["claim"])
    started_at = datetime.fromisoformat(claimed["startedAt"])
    request = claim.request.execution_request()
    execution_id = execution_id_for(request_id)

    planned = step(lambda: _plan(deps, request, started_at), "plan")
    if "invalid" in planned:
        record = failed_record(
            scenario_name=request.scenario_name,
            reason=f"invalid plan: {planned['invalid']}",
            started_at=started_at,
            execution_id=execution_id,
            suite_request_id=request_id,
            preset=request.preset,
            trigger=claim.request.trigger,
            requested=request.requested(),
        )
    else:
        result = _run_phases(context, deps, step, claim, PreparedRun.from_json(planned), execution_id)
        record = _record_of(result, claim, request, started_at)
    summary: dict[str, Any] = step(lambda: _finish(deps, claim, record), "record")
    return summary


def _step_runner(context: DurableContext, deps: CoordinatorDeps) -> StepRunner:
    def step(fn: Callable[[], T], name: str) -> T:
        def in_step(_: object) -> T:
            try:
                return fn()
            finally:
                deps.db.close()  # no connection outlives a step (none is held while a phase runs)

        result: T = context.step(in_step, name=name)
        return result

    return step


def _run_phases(
    context: DurableContext,
    deps: CoordinatorDeps,
    step: StepRunner,
    claim: Claim,
    prepared: PreparedRun,
    execution_id: UUID,
) -> SuiteExecutionResult:
    """The orchestrator's loop over the planned phases, each a chained invoke, progress after each."""
    request = claim.request.execution_request()
    latest: dict[str, Any] = progress_of([], prepared.plan.phases)
    stop_requested = False

    def before_phase(name: str) -> None:
        # Inside the phase's prepare step: shows the phase as current and renews the lease.
        deps.requests.record_progress(claim, {**latest, "currentPhase": name})

    def on_progress(results: list[PhaseResult], names: list[str]) -> None:
        nonlocal stop_requested, latest
        latest = progress_of(results, names)
        snapshot = dict(latest)
        stop_requested = step(
            lambda: deps.requests.record_progress(claim, snapshot), f"progress {len(results)}"
        )

    phases = DurablePhases(
        context,
        step,
        prepared,
        bundles=deps.bundles,
        artifacts=deps.artifacts,
        runner_function=deps.runner_function,
        default_phase_timeout=deps.default_phase_timeout,
        before_phase=before_phase,
        shards=deps.shards,
    )
    orchestrator = SuiteOrchestrator(
        deps.bundles, deps.artifacts, deps.default_phase_timeout, executor=phases
    )
    try:
        return orchestrator.execute(
            request, execution_id, on_progress=on_progress, should_stop=lambda: stop_requested
        )
    except Exception as exc:  # an engine fault still leaves a row and a terminal status
        logger.exception("suite execution errored", extra={"execution_id": str(execution_id)})
        return failed_record(
            scenario_name=request.scenario_name,
            reason=f"execution errored: {exc}",
            started_at=datetime.now(UTC),
            execution_id=execution_id,
            preset=request.preset,
        ).to_execution_result()


def _claim(deps: CoordinatorDeps, request_id: UUID, arn: str) -> dict[str, Any] | None:
    claim = deps.requests.claim_durable(request_id, arn)
    if claim is None:
        return None
    return {"claim": claim.model_dump(mode="json"), "startedAt": datetime.now(UTC).isoformat()}


def _plan(deps: CoordinatorDeps, request: SuitePlan, started_at: datetime) -> dict[str, Any]:
    """The plan from the bytes the runner will verify (the bundle's reference first, as RunnerPhases
    does); a plan that can no longer run (the scenario changed since it was queued) ends the run."""
    try:
        name = validate_scenario_name(request.scenario_name)
        bundle = deps.bundles.bundle(name, URL_LIFETIME_SECONDS)
        max_shards = deps.shards.max_shards if deps.shards else DEFAULT_MAX_SHARDS
        folder = deps.bundles.locate(name)
        plan, _config = plan_scenario(request, folder, deps.default_phase_timeout, max_shards=max_shards)
    except ValidationError as exc:
        return {"invalid": exc.message}
    deadline = started_at + timedelta(seconds=max(60, deps.execution_timeout_seconds - RECORD_MARGIN_SECONDS))
    return PreparedRun(plan=plan, bundle=bundle, deadline_at=deadline).to_json()


def _record_of(
    result: SuiteExecutionResult, claim: Claim, request: SuitePlan, started_at: datetime
) -> SuiteExecutionRecord:
    # The run started when it was claimed, not when this (possibly replaying) invocation began.
    result = result.model_copy(update={"suite_request_id": claim.request.id, "started_at": started_at})
    return SuiteExecutionRecord.from_result(
        result, trigger=claim.request.trigger, requested=request.requested()
    )


def _finish(deps: CoordinatorDeps, claim: Claim, record: SuiteExecutionRecord) -> dict[str, Any]:
    summary = {
        "suiteRequestId": str(claim.request.id),
        "executionId": str(record.id),
        "outcome": record.outcome.value,
        "claimed": True,
    }
    try:
        deps.requests.finish(claim, record)
    except ConflictError as exc:  # cancelled (stopped) or reaped meanwhile: theirs is the record
        logger.warning("result discarded", extra={"suite_request_id": str(claim.request.id)})
        return {**summary, "discarded": exc.message}
    logger.info("suite execution recorded", extra={**summary})
    return summary
