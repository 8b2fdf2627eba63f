"""SuiteOrchestrator: plans a request, then runs its phases one by one through a PhaseExecutor.

It satisfies engine_protocol.SuiteEngine. The loop here owns what the coordinator owns (cancel
between phases, the run's deadline, fail-fast, progress); an executor runs one phase at a time:
in the runner (runner/coordinator.py: RunnerPhases, one invocation per phase, the production path)
or in this process (InProcessPhases: tests and benchmarks only, it holds whatever keys this process
holds). Phase failures are results, never exceptions; only engine faults raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from testgenie.artifacts import ArtifactStore, artifact_store_from_settings
from testgenie.observability import logger
from testgenie.orchestrator.models import (
    DEFAULT_MAX_SHARDS,
    Outcome,
    PhasePlan,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionResult,
    SuitePlan,
    TestTiming,
    run_outcome,
    summarize_phases,
)
from testgenie.orchestrator.phases.base import DEFAULT_LOG_CAP_BYTES, RunState
from testgenie.orchestrator.phases.junit import measured_timings
from testgenie.orchestrator.planning.catalog import DEFAULT_PHASE_TIMEOUT_SECONDS
from testgenie.orchestrator.planning.plan import (
    build_plan,
    discover_phase_scripts,
    scenario_phases,
    validate_scenario_name,
)
from testgenie.orchestrator.planning.testing_config import TestingConfig, load_testing_config
from testgenie.orchestrator.run.engine_protocol import ProgressCallback, StopCheck
from testgenie.orchestrator.run.phase_run import PhaseJob, run_one_phase
from testgenie.orchestrator.run.workspace import Workspace, command_environment, prepare_workspace
from testgenie.orchestrator.sources.base import ScenarioSource
from testgenie.orchestrator.sources.factory import scenario_source_from_settings

if TYPE_CHECKING:
    from testgenie.settings import Settings


def plan_scenario(
    request: SuitePlan,
    scenario_dir: Path,
    default_timeout: int,
    *,
    max_shards: int = DEFAULT_MAX_SHARDS,
) -> tuple[PhasePlan, TestingConfig]:
    """The plan of `request` over one scenario folder (ValidationError when it does not fit)."""
    config = load_testing_config(scenario_dir)
    scripts = discover_phase_scripts(scenario_dir)
    return build_plan(request, config, scripts, default_timeout, max_shards=max_shards), config


class PhaseSession(Protocol):
    """One run's phases, run one at a time. `plan` is the plan of exactly what runs; `source_digest`
    ("sha256:<hex>") names the bundle it runs from (None: a folder copy)."""

    plan: PhasePlan

    @property
    def source_digest(self) -> str | None: ...

    def test_timings(self) -> list[TestTiming]:
        """The durations of the tests the run's phases ran so far (recorded with the run)."""
        ...

    def run(
        self, name: str, deadline: float | None, warnings: list[str]
    ) -> tuple[PhaseResult, Outcome | None]:
        """Run one planned phase. A returned outcome (timeout, errored) ends the run after it."""
        ...


class PhaseExecutor(Protocol):
    def session(self, request: SuitePlan, execution_id: UUID) -> AbstractContextManager[PhaseSession]: ...


class SuiteOrchestrator:
    def __init__(
        self,
        scenarios: ScenarioSource,
        artifacts: ArtifactStore,
        default_phase_timeout: int = DEFAULT_PHASE_TIMEOUT_SECONDS,
        *,
        executor: PhaseExecutor,
        clock: Callable[[], float] = time.monotonic,
        max_shards: int = DEFAULT_MAX_SHARDS,
    ) -> None:
        """`executor` runs the phases: RunnerPhases (runner/coordinator.py) in the service,
        InProcessPhases in tests and benchmarks only."""
        self.scenarios = scenarios
        self.artifacts = artifacts
        self.default_phase_timeout = default_phase_timeout
        self.clock = clock
        self.max_shards = max_shards
        self.executor = executor

    def plan(self, request: SuitePlan) -> PhasePlan:
        """Validate the request against the catalog and the scenario's testing.json (ValidationError)."""
        scenario_dir = self.scenarios.locate(validate_scenario_name(request.scenario_name))
        return plan_scenario(request, scenario_dir, self.default_phase_timeout, max_shards=self.max_shards)[0]

    def execute(
        self,
        request: SuitePlan,
        execution_id: UUID,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        *,
        deadline: float | None = None,
    ) -> SuiteExecutionResult:
        """Run the plan. `deadline` (time.monotonic()) ends the run early with outcome `timeout`."""
        started_at = datetime.now(UTC)
        results: list[PhaseResult] = []
        warnings: list[str] = []
        stopped: Outcome | None = None
        with self.executor.session(request, execution_id) as session:
            plan = session.plan
            warnings.extend(plan.warnings)
            for name in plan.phases:
                if should_stop is not None and self._ask_stop(should_stop, warnings):
                    stopped = Outcome.CANCELLED
                    warnings.append(f"run cancelled before phase '{name}'")
                    break
                if deadline is not None and self.clock() >= deadline:
                    stopped = Outcome.TIMEOUT
                    warnings.append(f"run deadline reached before phase '{name}'")
                    break
                result, ended = session.run(name, deadline, warnings)
                results.append(result)
                if on_progress is not None:
                    self._notify(on_progress, results, plan.phases, warnings)
                if ended is not None:
                    stopped = ended
                    break
                if plan.fail_fast and result.status == PhaseStatus.FAILED:
                    break
        outcome = run_outcome(plan.phases, results, stopped)
        return SuiteExecutionResult(
            execution_id=execution_id,
            scenario_name=plan.scenario_name,
            started_at=started_at,
            completed_at=datetime.now(UTC),
            success=outcome == Outcome.PASSED,
            preset=plan.preset,
            outcome=outcome,
            phases=results,
            phase_summary=summarize_phases(results),
            warnings=warnings or None,
            source_digest=session.source_digest,
            test_timings=session.test_timings() or None,
        )

    @staticmethod
    def _ask_stop(should_stop: StopCheck, warnings: list[str]) -> bool:
        try:
            return bool(should_stop())
        except Exception as exc:  # a failing cancellation check must not end the run
            warnings.append(f"cancellation check failed: {exc}")
            return False

    @staticmethod
    def _notify(
        on_progress: ProgressCallback, results: list[PhaseResult], planned: list[str], warnings: list[str]
    ) -> None:
        try:
            on_progress(list(results), list(planned))
        except Exception as exc:  # progress is best effort; the run goes on
            warnings.append(f"progress callback failed: {exc}")


@dataclass
class _InProcessSession:
    plan: PhasePlan
    owner: InProcessPhases
    config: TestingConfig
    workspace: Workspace
    scripts: dict[str, str]
    base_env: dict[str, str]
    execution_id: UUID
    state: RunState
    source_digest: str | None = None

    def run(
        self, name: str, deadline: float | None, warnings: list[str]
    ) -> tuple[PhaseResult, Outcome | None]:
        script = self.scripts.get(name)
        owner = self.owner
        phase = run_one_phase(
            PhaseJob(
                name=name,
                scenario_name=self.plan.scenario_name,
                execution_id=self.execution_id,
                timeout=self.plan.timeouts.get(name, owner.default_phase_timeout),
                config=self.config,
                workspace=self.workspace,
                base_env=self.base_env,
                run=self.state,
                script=self.workspace.scenario_dir / script if script else None,
                run_deadline=deadline,
                log_cap_bytes=owner.log_cap_bytes,
                clock=owner.clock,
            )
        )
        try:
            phase.result.log_path = owner.artifacts.put_log(self.execution_id, name, phase.log)
        except Exception as exc:  # the result matters more than its log
            warnings.append(f"the log of phase '{name}' could not be stored: {exc}")
        return phase.result, Outcome.TIMEOUT if phase.stopped_at_run_deadline else None

    def test_timings(self) -> list[TestTiming]:
        return measured_timings(self.state.test_cases)


class InProcessPhases:
    """Phases in this process, in one private copy of the scenario (tests and benchmarks only)."""

    def __init__(
        self,
        scenarios: ScenarioSource,
        artifacts: ArtifactStore,
        default_phase_timeout: int = DEFAULT_PHASE_TIMEOUT_SECONDS,
        *,
        log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES,
        workspace_parent: Path | None = None,
        service_env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scenarios = scenarios
        self.artifacts = artifacts
        self.default_phase_timeout = default_phase_timeout
        self.log_cap_bytes = log_cap_bytes
        self.workspace_parent = workspace_parent
        self.service_env = service_env  # None: os.environ (only PATH and LANG are read from it)
        self.clock = clock

    def _source_digest(self, scenario: str) -> str | None:
        """What ran exactly: the bundle's digest (a folder is packed reproducibly, so it is a tree
        hash of the folder). History uses it to tell flaky from changed (docs/api.md); a digest that
        cannot be had never fails the run."""
        try:
            return self.scenarios.bundle(scenario).source_digest
        except Exception:
            logger.warning("no source digest for the run", extra={"scenario": scenario})
            return None

    @contextmanager
    def session(self, request: SuitePlan, execution_id: UUID) -> Iterator[PhaseSession]:
        scenario_dir = self.scenarios.locate(validate_scenario_name(request.scenario_name))
        source_digest = self._source_digest(request.scenario_name)  # of the files about to be copied
        with prepare_workspace(scenario_dir, execution_id, self.workspace_parent) as workspace:
            # Plan from the copy, so what runs is exactly what was validated.
            plan, config = plan_scenario(request, workspace.scenario_dir, self.default_phase_timeout)
            phases = scenario_phases(
                config, discover_phase_scripts(workspace.scenario_dir), self.default_phase_timeout
            )
            yield _InProcessSession(
                plan=plan,
                owner=self,
                config=config,
                workspace=workspace,
                scripts=phases.scripts,
                base_env=command_environment(workspace, execution_id, config.env, self.service_env),
                execution_id=execution_id,
                state=RunState(),
                source_digest=source_digest,
            )


def in_process_orchestrator(
    settings: Settings, *, workspace_parent: Path | None = None, service_env: Mapping[str, str] | None = None
) -> SuiteOrchestrator:
    """Phases in this process: for tests and benchmarks, never for a service holding keys."""
    scenarios = scenario_source_from_settings(settings, planning_only=False)  # it runs what it plans from
    artifacts = artifact_store_from_settings(settings)
    timeout = settings.phase_timeout_seconds
    executor = InProcessPhases(
        scenarios, artifacts, timeout, workspace_parent=workspace_parent, service_env=service_env
    )
    return SuiteOrchestrator(scenarios, artifacts, timeout, executor=executor, max_shards=settings.max_shards)
