"""The coordinator's phase executor: each phase is one invocation of the runner.

ExecuteFunction keeps the claim, the lease, progress, cancel, the deadline and the final record
(orchestrator/engine.py's loop); for each phase it hands RunnerFunction only what that phase may
touch: a pre-signed GET of the bundle it planned from (with its digest), the plan, the deadline and a
pre-signed PUT for the phase's log. docs/architecture.md ("The runner") explains the shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from testgenie.artifacts import ArtifactStore
from testgenie.orchestrator.engine import PhaseSession, plan_scenario
from testgenie.orchestrator.models import (
    Classification,
    Outcome,
    PhasePlan,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionRequest,
    TestTiming,
)
from testgenie.orchestrator.planning import validate_scenario_name
from testgenie.orchestrator.runners.base import TestCase
from testgenie.orchestrator.runners.junit import measured_timings
from testgenie.orchestrator.workspace import ScenarioSource
from testgenie.runner.client import RunnerClient, RunnerFailure
from testgenie.runner.protocol import BundleRef, PhaseInvocation, PriorTest

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

    def run(
        self, name: str, deadline: float | None, warnings: list[str]
    ) -> tuple[PhaseResult, Outcome | None]:
        timeout, deadline_at, wait = self._timing(name, deadline)
        upload = self.owner.artifacts.upload_target(self.execution_id, name, upload_lifetime(timeout))
        invocation = PhaseInvocation(
            execution_id=self.execution_id,
            scenario_name=self.plan.scenario_name,
            bundle=self.bundle,
            plan=self.plan,
            phase=name,
            timeout_seconds=timeout,
            deadline_at=deadline_at,
            log_upload=upload,
            prior_tests=list(self.prior_tests),
        )
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
    ) -> None:
        self.bundles = bundles
        self.artifacts = artifacts
        self.runner = runner
        self.default_phase_timeout = default_phase_timeout
        self.clock = clock

    @contextmanager
    def session(self, request: SuiteExecutionRequest, execution_id: UUID) -> Iterator[PhaseSession]:
        name = validate_scenario_name(request.scenario_name)
        # One look-up: the plan is made from the very version whose digest the runner checks. Should
        # the scenario be pushed again meanwhile, the runner refuses bytes that are not these.
        bundle, folder = self.bundles.snapshot(name, URL_LIFETIME_SECONDS)
        plan, _config = plan_scenario(request, folder, self.default_phase_timeout)
        yield _RunnerSession(plan=plan, owner=self, execution_id=execution_id, bundle=bundle)
