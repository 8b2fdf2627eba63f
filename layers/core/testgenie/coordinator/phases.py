"""The durable coordinator's phase executor: each phase is one chained invoke of RunnerFunction.

Same loop as ever (orchestrator/run/engine.py: cancel, fail-fast, progress); what differs is how one
phase runs. Its invocation (fresh pre-signed URLs, the run's deadline) is built inside a step, and
`invoke_runner_phase` hands it to the runner with `context.invoke`, so the answer is checkpointed:
on replay a phase that answered is never run again, and while the runner works the coordinator is
suspended (no compute billed, no database connection held). docs/architecture.md shows the flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from pydantic import ValidationError as PydanticValidationError

from testgenie.coordinator.shards import DurableShards, ShardSettings, step_clock
from testgenie.orchestrator.models import (
    Outcome,
    PhasePlan,
    PhaseResult,
    ShardsSetting,
    SuitePlan,
    TestTiming,
)
from testgenie.orchestrator.phases.base import TestCase
from testgenie.orchestrator.phases.junit import measured_timings
from testgenie.orchestrator.run.engine import PhaseSession
from testgenie.runner.bounds import bound_invocation
from testgenie.runner.client import RunnerFailure, short_message
from testgenie.runner.coordinator import URL_LIFETIME_SECONDS, failed_phase, upload_lifetime
from testgenie.runner.protocol import BundleRef, PhaseAnswer, PhaseInvocation, PriorTest
from testgenie.runner.sharded import ShardedPhase, ShardedResult, run_sharded_phase
from testgenie.runner.tenancy import tenant_for

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python import DurableContext

    from testgenie.artifacts import ArtifactStore
    from testgenie.orchestrator.sources.base import ScenarioSource

# What Lambda and the durable service say when an invoke ran out of time.
_TIMEOUT_MARKERS = ("Sandbox.Timedout", "ChainedInvoke.Timeout", "Task timed out", "TimedOut")


class StepRunner(Protocol):
    """Runs `fn` as a named step of the execution (its result is checkpointed)."""

    def __call__(self, fn: Callable[[], Any], name: str) -> Any: ...


def tenant_of(scenario_name: str) -> str:
    """The tenant a runner invocation belongs to: its scenario, so one runner environment never
    serves two scenarios (runner/tenancy.py; docs/architecture.md, "Tenants")."""
    return tenant_for(scenario_name)


def invoke_runner_phase(
    context: DurableContext, runner_function: str, invocation: PhaseInvocation
) -> PhaseAnswer:
    """One phase in the runner, as a durable chained invoke; RunnerFailure when it gave no usable
    answer (it crashed, timed out, or answered another question)."""
    from aws_durable_execution_sdk_python import InvokeError
    from aws_durable_execution_sdk_python.config import InvokeConfig

    payload = invocation.model_dump(mode="json", by_alias=True)
    try:
        raw = context.invoke(
            runner_function,
            payload,
            name=f"phase {invocation.phase}",
            config=InvokeConfig[dict[str, Any], dict[str, Any]](
                tenant_id=tenant_of(invocation.scenario_name)
            ),
        )
    except InvokeError as exc:
        kind = exc.error_type or "InvokeError"
        if any(marker in f"{kind} {exc.message}" for marker in _TIMEOUT_MARKERS):
            raise RunnerFailure(
                f"the runner timed out: {short_message(exc.message or kind)}", timed_out=True
            ) from None
        raise RunnerFailure(f"the runner crashed ({kind}): {short_message(exc.message or kind)}") from None
    return accept_answer(raw, invocation)


def accept_answer(raw: Any, invocation: PhaseInvocation) -> PhaseAnswer:
    """The typed answer to exactly this invocation, or RunnerFailure("malformed runner answer: …")."""
    try:
        answer = PhaseAnswer.model_validate(raw)
        answer.check_answers(invocation)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise RunnerFailure(f"malformed runner answer: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise RunnerFailure(f"malformed runner answer: {exc}") from None
    return answer


@dataclass(frozen=True)
class PreparedRun:
    """What the plan step checkpoints: the plan and the bundle it was made from."""

    plan: PhasePlan
    bundle: BundleRef
    deadline_at: datetime | None = None  # the execution's own end, minus a margin for the record

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.model_dump(mode="json", by_alias=True),
            "bundle": self.bundle.model_dump(mode="json", by_alias=True),
            "deadlineAt": self.deadline_at.isoformat() if self.deadline_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreparedRun:
        deadline = data.get("deadlineAt")
        return cls(
            plan=PhasePlan.model_validate(data["plan"]),
            bundle=BundleRef.model_validate(data["bundle"]),
            deadline_at=datetime.fromisoformat(deadline) if deadline else None,
        )


@dataclass
class _DurableSession:
    owner: DurablePhases
    prepared: PreparedRun
    plan: PhasePlan
    execution_id: UUID
    prior_tests: list[PriorTest] = field(default_factory=list)

    @property
    def source_digest(self) -> str | None:
        return self.prepared.bundle.source_digest

    def run(
        self, name: str, deadline: float | None, warnings: list[str]
    ) -> tuple[PhaseResult, Outcome | None]:
        owner = self.owner
        prepared = owner.step(lambda: self._invocation(name), f"prepare {name}")
        if prepared.get("late"):
            failure = RunnerFailure(f"the execution's deadline passed before phase '{name}'", timed_out=True)
            warnings.append(f"phase '{name}': {failure.message}")
            return failed_phase(name, failure, 0), Outcome.TIMEOUT
        invocation = PhaseInvocation.model_validate(prepared["invocation"])
        if prepared.get("note"):
            warnings.append(prepared["note"])
        setting = self.plan.shards.get(name)
        if setting is not None and owner.shards is not None:
            sharded = self._sharded(name, setting, invocation, owner.shards)
            if sharded is not None:
                warnings.extend(f"phase '{name}': {text}" for text in sharded.warnings)
                self.prior_tests.extend(sharded.tests)
                return sharded.result, sharded.outcome
        try:
            answer = invoke_runner_phase(owner.context, owner.runner_function, invocation)
        except RunnerFailure as failure:
            # How long it took, from the clock of a step (checkpointed: the same on every replay).
            started = float(prepared["preparedAt"])
            duration_ms = owner.step(lambda: int((time.time() - started) * 1000), f"settle {name}")
            warnings.append(f"phase '{name}': {failure.message}")
            return failed_phase(name, failure, duration_ms), (
                Outcome.TIMEOUT if failure.timed_out else Outcome.ERRORED
            )
        result = answer.result.model_copy(
            update={"log_path": invocation.log_upload.key if answer.log_stored else ""}
        )
        if not answer.log_stored:
            warnings.append(f"the log of phase '{name}' could not be stored")
        warnings.extend(f"phase '{name}': {text}" for text in answer.warnings)
        self.prior_tests.extend(answer.tests)
        return result, Outcome.TIMEOUT if answer.stopped_at_run_deadline else None

    def test_timings(self) -> list[TestTiming]:
        return measured_timings(TestCase(**test.model_dump()) for test in self.prior_tests)

    def _sharded(
        self, name: str, setting: ShardsSetting, invocation: PhaseInvocation, settings: ShardSettings
    ) -> ShardedResult | None:
        """The phase as a durable map of shards (coordinator/shards.py); None: run it unsharded."""
        owner = self.owner
        backend = DurableShards(
            context=owner.context,
            step=owner.step,
            invoke=lambda ctx, inv: invoke_runner_phase(ctx, owner.runner_function, inv),
            artifacts=owner.artifacts,
            settings=settings,
            base=invocation,
            fail_fast=self.plan.fail_fast,
        )
        phase = ShardedPhase(name, setting, invocation, settings.max_shards, settings.target_seconds)
        return run_sharded_phase(phase, backend, clock=step_clock(owner.step, name))

    def _invocation(self, name: str) -> dict[str, Any]:
        """Inside a step: the phase's invocation with URLs signed now (a long execution outlives any
        URL signed at its start); the bytes stay the planned ones (the runner checks the digest)."""
        owner, prepared = self.owner, self.prepared
        now = datetime.now(UTC)
        if prepared.deadline_at is not None and now >= prepared.deadline_at:
            return {"late": True}
        fresh = owner.bundles.bundle(prepared.plan.scenario_name, URL_LIFETIME_SECONDS)
        bundle = prepared.bundle.model_copy(update={"url": fresh.url})
        timeout = prepared.plan.timeouts.get(name, owner.default_phase_timeout)
        invocation, note = bound_invocation(
            PhaseInvocation(
                execution_id=self.execution_id,
                scenario_name=prepared.plan.scenario_name,
                bundle=bundle,
                plan=prepared.plan,
                phase=name,
                timeout_seconds=timeout,
                deadline_at=prepared.deadline_at,
                log_upload=owner.artifacts.upload_target(self.execution_id, name, upload_lifetime(timeout)),
                prior_tests=list(self.prior_tests),
            )
        )
        owner.before_phase(name)
        return {
            "invocation": invocation.model_dump(mode="json", by_alias=True),
            "note": note,
            "preparedAt": time.time(),
        }


class DurablePhases:
    """PhaseExecutor of one durable execution: the plan is the one its plan step checkpointed."""

    def __init__(
        self,
        context: DurableContext,
        step: StepRunner,
        prepared: PreparedRun,
        *,
        bundles: ScenarioSource,
        artifacts: ArtifactStore,
        runner_function: str,
        default_phase_timeout: int,
        before_phase: Callable[[str], None] = lambda name: None,
        shards: ShardSettings | None = None,
    ) -> None:
        self.shards = shards
        self.context = context
        self.step = step
        self.prepared = prepared
        self.bundles = bundles
        self.artifacts = artifacts
        self.runner_function = runner_function
        self.default_phase_timeout = default_phase_timeout
        self.before_phase = before_phase

    @contextmanager
    def session(self, request: SuitePlan, execution_id: UUID) -> Iterator[PhaseSession]:
        yield _DurableSession(
            owner=self, prepared=self.prepared, plan=self.prepared.plan, execution_id=execution_id
        )
