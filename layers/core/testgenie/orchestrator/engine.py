"""SuiteOrchestrator: plans a request, then runs its phases one by one in a private workspace.

It satisfies engine_protocol.SuiteEngine. Phase failures (including a crashing runner) are results,
never exceptions; only engine faults (the workspace cannot be created, …) raise.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from testgenie.artifacts import ArtifactStore, artifact_store_from_settings
from testgenie.observability import logger
from testgenie.orchestrator.catalog import DEFAULT_PHASE_TIMEOUT_SECONDS
from testgenie.orchestrator.engine_protocol import ProgressCallback, StopCheck
from testgenie.orchestrator.models import (
    Classification,
    Observation,
    Outcome,
    PhasePlan,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionRequest,
    SuiteExecutionResult,
    run_outcome,
    summarize_phases,
)
from testgenie.orchestrator.planning import (
    build_plan,
    discover_phase_scripts,
    is_enabled,
    scenario_phases,
    validate_scenario_name,
)
from testgenie.orchestrator.runners import runner_for
from testgenie.orchestrator.runners.base import (
    DEFAULT_LOG_CAP_BYTES,
    TIMEOUT_REMEDIATION,
    LogBuffer,
    PhaseContext,
    PhaseReport,
    PhaseTimeout,
    RunState,
)
from testgenie.orchestrator.testing_config import (
    CONFIG_RELPATH,
    PhaseConfig,
    TestingConfig,
    load_testing_config,
)
from testgenie.orchestrator.workspace import (
    ScenarioSource,
    Workspace,
    command_environment,
    prepare_workspace,
    scenario_source_from_settings,
)

if TYPE_CHECKING:
    from testgenie.settings import Settings


def _duration(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class SuiteOrchestrator:
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

    # -- planning ---------------------------------------------------------------------------

    def _plan_in(self, request: SuiteExecutionRequest, scenario_dir: Path) -> tuple[PhasePlan, TestingConfig]:
        config = load_testing_config(scenario_dir)
        scripts = discover_phase_scripts(scenario_dir)
        return build_plan(request, config, scripts, self.default_phase_timeout), config

    def plan(self, request: SuiteExecutionRequest) -> PhasePlan:
        """Validate the request against the catalog and the scenario's testing.json (ValidationError)."""
        scenario_dir = self.scenarios.locate(validate_scenario_name(request.scenario_name))
        return self._plan_in(request, scenario_dir)[0]

    # -- execution --------------------------------------------------------------------------

    def execute(
        self,
        request: SuiteExecutionRequest,
        execution_id: UUID,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        *,
        deadline: float | None = None,
    ) -> SuiteExecutionResult:
        """Run the plan. `deadline` (time.monotonic()) ends the run early with outcome `timeout`."""
        started_at = datetime.now(UTC)
        scenario_dir = self.scenarios.locate(validate_scenario_name(request.scenario_name))
        results: list[PhaseResult] = []
        warnings: list[str] = []
        stopped: Outcome | None = None
        source_digest = self._source_digest(request.scenario_name)  # of the files about to be copied
        with prepare_workspace(scenario_dir, execution_id, self.workspace_parent) as workspace:
            # Plan from the copy, so what runs is exactly what was validated.
            plan, config = self._plan_in(request, workspace.scenario_dir)
            warnings.extend(plan.warnings)
            phases = scenario_phases(
                config, discover_phase_scripts(workspace.scenario_dir), self.default_phase_timeout
            )
            base_env = command_environment(workspace, execution_id, config.env, self.service_env)
            run = RunState()
            for name in plan.phases:
                if should_stop is not None and self._ask_stop(should_stop, warnings):
                    stopped = Outcome.CANCELLED
                    warnings.append(f"run cancelled before phase '{name}'")
                    break
                if deadline is not None and self.clock() >= deadline:
                    stopped = Outcome.TIMEOUT
                    warnings.append(f"run deadline reached before phase '{name}'")
                    break
                script = phases.scripts.get(name)
                result, hit_run_deadline = self._run_phase(
                    name,
                    plan,
                    config,
                    workspace,
                    base_env,
                    run,
                    execution_id,
                    workspace.scenario_dir / script if script else None,
                    deadline,
                    warnings,
                )
                results.append(result)
                if on_progress is not None:
                    self._notify(on_progress, results, plan.phases, warnings)
                if hit_run_deadline:
                    stopped = Outcome.TIMEOUT
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
            source_digest=source_digest,
        )

    def _source_digest(self, scenario: str) -> str | None:
        """What ran exactly: the bundle's digest (a folder is packed reproducibly, so it is a tree
        hash of the folder). History uses it to tell flaky from changed (docs/api.md); a digest that
        cannot be had never fails the run."""
        try:
            return self.scenarios.bundle(scenario).source_digest
        except Exception:
            logger.warning("no source digest for the run", extra={"scenario": scenario})
            return None

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

    def _run_phase(
        self,
        name: str,
        plan: PhasePlan,
        config: TestingConfig,
        workspace: Workspace,
        base_env: dict[str, str],
        run: RunState,
        execution_id: UUID,
        script: Path | None,
        run_deadline: float | None,
        warnings: list[str],
    ) -> tuple[PhaseResult, bool]:
        timeout = plan.timeouts.get(name, self.default_phase_timeout)
        started = self.clock()
        phase_deadline = started + timeout
        run_bound = run_deadline is not None and run_deadline < phase_deadline
        if run_deadline is not None and run_bound:
            phase_deadline = run_deadline
        log = LogBuffer(self.log_cap_bytes)
        log.line(f"=== test-genie phase '{name}' of {plan.scenario_name} (execution {execution_id})")
        log.line(f"=== timeout {_duration(timeout)}, started {datetime.now(UTC).isoformat()}")
        report = PhaseReport()
        phase_config = config.phases.get(name) or PhaseConfig()
        timed_out = False
        crash: str | None = None
        if not is_enabled(name, config):
            report.skip_reason = f"disabled in {CONFIG_RELPATH} (phases.{name}.enabled = false)"
        else:
            reports_dir = workspace.reports
            env = {
                **base_env,
                **phase_config.env,
                "TESTGENIE_PHASE": name,
                "TESTGENIE_REPORTS_DIR": str(reports_dir),
            }
            ctx = PhaseContext(
                name=name,
                scenario_dir=workspace.scenario_dir,
                config=phase_config,
                testing=config,
                env=env,
                reports_dir=reports_dir,
                scratch_dir=workspace.tmp,
                deadline=phase_deadline,
                log=log,
                run=run,
                script=script,
                clock=self.clock,
            )
            try:
                workspace.clear_reports()
                runner_for(name)(ctx, report)
            except PhaseTimeout as exc:
                timed_out = True
                log.line(f"[test-genie] {exc}")
            except Exception as exc:  # a runner bug fails its phase, not the run
                crash = f"the {name} runner crashed: {type(exc).__name__}: {exc}"
                log.line(f"[test-genie] {crash}")
                log.write(traceback.format_exc().encode())
        duration_ms = max(0, int((self.clock() - started) * 1000))
        result = self._result(name, report, timeout, timed_out, run_bound, crash, duration_ms)
        log.line("OBSERVATIONS:")
        for observation in result.observations or []:
            log.line(f"  [{observation.prefix or ''}] {observation.text}")
        log.line(
            f"=== {result.status.value} in {duration_ms} ms" + (f": {result.error}" if result.error else "")
        )
        try:
            result.log_path = self.artifacts.put_log(execution_id, name, log.getvalue())
        except Exception as exc:  # the result matters more than its log
            warnings.append(f"the log of phase '{name}' could not be stored: {exc}")
        return result, timed_out and run_bound

    @staticmethod
    def _result(
        name: str,
        report: PhaseReport,
        timeout: int,
        timed_out: bool,
        run_bound: bool,
        crash: str | None,
        duration_ms: int,
    ) -> PhaseResult:
        observations = list(report.observations)
        status = PhaseStatus.PASSED
        error = classification = remediation = None
        if timed_out:
            status = PhaseStatus.FAILED
            classification = Classification.TIMEOUT
            remediation = TIMEOUT_REMEDIATION
            error = (
                "phase stopped at the run's deadline"
                if run_bound
                else f"phase timed out after {_duration(timeout)}"
            )
        elif crash:
            status = PhaseStatus.FAILED
            error, classification = crash, Classification.SYSTEM
            remediation = "This is a test-genie bug; the phase log has the traceback."
        elif report.failures:
            first = report.failures[0]
            status = PhaseStatus.FAILED
            more = len(report.failures) - 1
            error = first.message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
            classification, remediation = first.classification, first.remediation
        elif report.checks == 0:
            status = PhaseStatus.SKIPPED
            observations.append(Observation(icon="⏭️", prefix="SKIP", text=f"{name}: {report.skip_reason}"))
        if status == PhaseStatus.FAILED and timed_out is False and error and not classification:
            classification = Classification.SYSTEM
        return PhaseResult(
            name=name,
            status=status,
            duration_ms=duration_ms,
            duration_seconds=PhaseResult.seconds_from_ms(duration_ms),
            error=error,
            classification=classification,
            remediation=remediation,
            observations=observations or None,
            tests=report.tests,
            failing_tests=report.failing_tests or None,
        )


def orchestrator_from_settings(settings: Settings) -> SuiteOrchestrator:
    return SuiteOrchestrator(
        scenario_source_from_settings(settings),
        artifact_store_from_settings(settings),
        settings.phase_timeout_seconds,
    )
