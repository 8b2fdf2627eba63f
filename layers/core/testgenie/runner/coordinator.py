"""The coordinator's phase executor: each phase is one invocation of the runner.

ExecuteFunction keeps the claim, the lease, progress, cancel, the deadline and the final record
(orchestrator/run/engine.py's loop); for each phase it hands RunnerFunction only what that phase may
touch: a pre-signed GET of the bundle it planned from (with its digest), the plan, the deadline and a
pre-signed PUT for the phase's log. docs/architecture.md ("The runner") explains the shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from testgenie.artifacts import ArtifactStore
from testgenie.orchestrator.models import (
    DEFAULT_MAX_SHARDS,
    Classification,
    Outcome,
    PhasePlan,
    PhaseResult,
    PhaseStatus,
    ShardAssignment,
    ShardsSetting,
    SuitePlan,
    TestTiming,
)
from testgenie.orchestrator.phases.base import TestCase
from testgenie.orchestrator.phases.junit import measured_timings
from testgenie.orchestrator.planning.plan import validate_scenario_name
from testgenie.orchestrator.run.engine import PhaseSession, SuiteOrchestrator, plan_scenario
from testgenie.orchestrator.sources.base import ScenarioSource
from testgenie.orchestrator.sources.factory import scenario_source_from_settings
from testgenie.runner.client import RunnerClient, RunnerFailure
from testgenie.runner.protocol import BundleRef, PhaseAnswer, PhaseInvocation, PriorTest
from testgenie.runner.sharded import (
    ShardedPhase,
    ShardOutcome,
    ThreadShards,
    run_sharded_phase,
    shard_invocation,
)
from testgenie.shards.assign import shard_log_name
from testgenie.shards.repository import Collection
from testgenie.shards.split import DEFAULT_SHARD_TARGET_SECONDS
from testgenie.shards.store import ShardStore

if TYPE_CHECKING:
    from testgenie.settings import Settings

# The runner is told to stop this long before the run's deadline, so its answer (and the log upload)
# arrives before the coordinator stops waiting.
RUNNER_DEADLINE_SLACK_SECONDS = 5.0
# Beyond a phase's own timeout: the runner's SIGTERM grace, the log upload and a cold start.
ANSWER_GRACE_SECONDS = 30.0
URL_LIFETIME_SECONDS = 3600


def upload_lifetime(timeout_seconds: int) -> int:
    """A phase log's upload URL lives as long as the phase may run plus the answer's grace: no
    longer, so it cannot be used again long after the result was recorded."""
    return int(timeout_seconds + ANSWER_GRACE_SECONDS)


def failed_phase(name: str, failure: RunnerFailure, duration_ms: int) -> PhaseResult:
    return PhaseResult(
        name=name,
        status=PhaseStatus.FAILED,
        duration_ms=duration_ms,
        duration_seconds=PhaseResult.seconds_from_ms(duration_ms),
        error=failure.message,
        classification=Classification.TIMEOUT if failure.timed_out else Classification.SYSTEM,
        remediation=(
            "Increase the timeout or break the phase into smaller steps."
            if failure.timed_out
            else "The runner failed outside the phase's commands; retry, and report it if it persists."
        ),
    )


@dataclass
class _RunnerSession:
    plan: PhasePlan
    owner: RunnerPhases
    execution_id: UUID
    bundle: BundleRef
    prior_tests: list[PriorTest] = field(default_factory=list)

    @property
    def source_digest(self) -> str | None:
        return self.bundle.source_digest

    def _timing(self, name: str, deadline: float | None) -> tuple[int, datetime | None, float]:
        """(phase timeout, the deadline the runner is told, how long to wait for its answer)."""
        timeout = self.plan.timeouts.get(name, self.owner.default_phase_timeout)
        now = self.owner.clock()
        wait = timeout + ANSWER_GRACE_SECONDS
        told: datetime | None = None
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - now))
            told = datetime.now(UTC) + timedelta(
                seconds=max(0.0, deadline - now - RUNNER_DEADLINE_SLACK_SECONDS)
            )
        return timeout, told, wait

    def _invocation(self, name: str, deadline: float | None) -> tuple[PhaseInvocation, float]:
        timeout, deadline_at, wait = self._timing(name, deadline)
        invocation = PhaseInvocation(
            execution_id=self.execution_id,
            scenario_name=self.plan.scenario_name,
            bundle=self.bundle,
            plan=self.plan,
            phase=name,
            timeout_seconds=timeout,
            deadline_at=deadline_at,
            log_upload=self.owner.artifacts.upload_target(self.execution_id, name, upload_lifetime(timeout)),
            prior_tests=list(self.prior_tests),
        )
        return invocation, wait

    def run(
        self, name: str, deadline: float | None, warnings: list[str]
    ) -> tuple[PhaseResult, Outcome | None]:
        invocation, wait = self._invocation(name, deadline)
        setting = self.plan.shards.get(name)
        if setting is not None:
            sharded = run_sharded_phase(
                self._sharded(name, setting, invocation), self._backend(invocation, wait)
            )
            if sharded is not None:
                warnings.extend(f"phase '{name}': {text}" for text in sharded.warnings)
                self.prior_tests.extend(sharded.tests)
                return sharded.result, sharded.outcome
        upload = invocation.log_upload
        started = self.owner.clock()
        try:
            answer = self.owner.runner.run_phase(invocation, wait)
        except RunnerFailure as failure:
            duration_ms = int((self.owner.clock() - started) * 1000)
            warnings.append(f"phase '{name}': {failure.message}")
            return failed_phase(name, failure, duration_ms), (
                Outcome.TIMEOUT if failure.timed_out else Outcome.ERRORED
            )
        result = answer.result.model_copy(update={"log_path": upload.key if answer.log_stored else ""})
        if not answer.log_stored:
            warnings.append(f"the log of phase '{name}' could not be stored")
        warnings.extend(f"phase '{name}': {text}" for text in answer.warnings)
        self.prior_tests.extend(answer.tests)
        return result, Outcome.TIMEOUT if answer.stopped_at_run_deadline else None

    def test_timings(self) -> list[TestTiming]:
        return measured_timings(TestCase(**test.model_dump()) for test in self.prior_tests)

    def _sharded(self, name: str, setting: ShardsSetting, invocation: PhaseInvocation) -> ShardedPhase:
        owner = self.owner
        return ShardedPhase(name, setting, invocation, owner.max_shards, owner.shard_target_seconds)

    def _backend(self, base: PhaseInvocation, wait: float) -> _ThreadBackend:
        return _ThreadBackend(self, base, wait)


@dataclass
class _ThreadBackend:
    """A sharded phase of this coordinator: its shards are threads waiting on the runner."""

    session: _RunnerSession
    base: PhaseInvocation
    wait: float

    def cached_collection(self, key: str) -> Collection | None:
        store = self.session.owner.shard_store
        return store.collection(self.base.scenario_name, key) if store else None

    def store_collection(self, key: str, collection: Collection) -> None:
        store = self.session.owner.shard_store
        if store is not None:
            store.store_collection(self.base.scenario_name, key, collection)

    def collect(self, invocation: PhaseInvocation) -> PhaseAnswer:
        return self.session.owner.runner.run_phase(invocation, self.wait)

    def durations(self, test_ids: Sequence[str]) -> dict[str, float]:
        store = self.session.owner.shard_store
        return store.durations(self.base.scenario_name, self.base.phase) if store else {}

    def _shard_invocation(self, assignment: ShardAssignment) -> PhaseInvocation:
        owner, name = self.session.owner, shard_log_name(self.base.phase, assignment.index)
        lifetime = upload_lifetime(self.base.timeout_seconds)
        upload = owner.artifacts.upload_target(self.base.execution_id, name, lifetime)
        return shard_invocation(self.base, assignment, upload)

    def run_shards(self, assignments: Sequence[ShardAssignment]) -> list[ShardOutcome]:
        shards = ThreadShards(
            self.session.owner.runner,
            self._shard_invocation,
            self.wait,
            fail_fast=self.session.plan.fail_fast,
            clock=self.session.owner.clock,
        )
        return shards.run_all(assignments)

    def store_summary(self, data: bytes) -> str:
        try:
            return self.session.owner.artifacts.put_log(self.base.execution_id, self.base.phase, data)
        except Exception:  # the result matters more than its log
            return ""


class RunnerPhases:
    """Runs each phase in the runner; plans from the same bytes the runner will verify."""

    def __init__(
        self,
        bundles: ScenarioSource,
        artifacts: ArtifactStore,
        runner: RunnerClient,
        default_phase_timeout: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        shard_store: ShardStore | None = None,
        max_shards: int = DEFAULT_MAX_SHARDS,
        shard_target_seconds: float = DEFAULT_SHARD_TARGET_SECONDS,
    ) -> None:
        self.bundles = bundles
        self.artifacts = artifacts
        self.runner = runner
        self.default_phase_timeout = default_phase_timeout
        self.clock = clock
        self.shard_store = shard_store
        self.max_shards = max_shards
        self.shard_target_seconds = shard_target_seconds

    @contextmanager
    def session(self, request: SuitePlan, execution_id: UUID) -> Iterator[PhaseSession]:
        name = validate_scenario_name(request.scenario_name)
        # One look-up: the plan is made from the very version whose digest the runner checks. Should
        # the scenario be pushed again meanwhile, the runner refuses bytes that are not these.
        bundle, folder = self.bundles.snapshot(name, URL_LIFETIME_SECONDS)
        plan, _config = plan_scenario(request, folder, self.default_phase_timeout, max_shards=self.max_shards)
        yield _RunnerSession(plan=plan, owner=self, execution_id=execution_id, bundle=bundle)


def runner_orchestrator(
    settings: Settings,
    *,
    artifacts: ArtifactStore,
    runner: RunnerClient,
    shard_store: ShardStore | None = None,
) -> SuiteOrchestrator:
    """The service's engine, every phase in the runner; its ports come from testgenie/bootstrap.py."""
    scenarios = scenario_source_from_settings(settings)
    executor = RunnerPhases(
        scenarios,
        artifacts,
        runner,
        settings.phase_timeout_seconds,
        shard_store=shard_store,
        max_shards=settings.max_shards,
        shard_target_seconds=settings.shard_target_seconds,
    )
    return SuiteOrchestrator(
        scenarios,
        artifacts,
        settings.phase_timeout_seconds,
        executor=executor,
        max_shards=settings.max_shards,
    )
