"""One phase, run in a workspace: the code the runner executes for every invocation.

The engine's in-process path (tests, benchmarks) and the runner (functions/runner) both call
run_one_phase, so a phase behaves the same wherever it runs; only where the log goes differs.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from testgenie.orchestrator.models import (
    Classification,
    Observation,
    PhaseResult,
    PhaseStatus,
    ShardAssignment,
)
from testgenie.orchestrator.phases import phase_kind
from testgenie.orchestrator.phases.base import (
    DEFAULT_LOG_CAP_BYTES,
    TIMEOUT_REMEDIATION,
    LogBuffer,
    PhaseContext,
    PhaseReport,
    PhaseTimeout,
    RunState,
)
from testgenie.orchestrator.planning.plan import is_enabled
from testgenie.orchestrator.planning.testing_config import CONFIG_RELPATH, PhaseConfig, TestingConfig
from testgenie.orchestrator.run.workspace import Workspace


def format_duration(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass
class PhaseJob:
    """Everything one phase needs, wherever it runs."""

    name: str
    scenario_name: str
    execution_id: UUID
    timeout: int
    config: TestingConfig
    workspace: Workspace
    base_env: dict[str, str]
    run: RunState = field(default_factory=RunState)
    script: Path | None = None
    run_deadline: float | None = None  # time.monotonic() of the run's deadline
    log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES
    clock: Callable[[], float] = time.monotonic
    shard: ShardAssignment | None = None


@dataclass
class PhaseRun:
    result: PhaseResult  # log_path is left empty: the caller stores the log
    log: bytes
    stopped_at_run_deadline: bool


@dataclass
class _Ending:
    timed_out: bool = False
    crash: str | None = None


def run_one_phase(job: PhaseJob) -> PhaseRun:
    """Run the phase; failures of any kind (a crashing runner included) are results, never raised."""
    started = job.clock()
    phase_deadline = started + job.timeout
    run_bound = job.run_deadline is not None and job.run_deadline < phase_deadline
    if job.run_deadline is not None and run_bound:
        phase_deadline = job.run_deadline
    log = LogBuffer(job.log_cap_bytes)
    log.line(f"=== test-genie phase '{job.name}' of {job.scenario_name} (execution {job.execution_id})")
    log.line(f"=== timeout {format_duration(job.timeout)}, started {datetime.now(UTC).isoformat()}")
    report = PhaseReport()
    ending = _Ending()
    if not is_enabled(job.name, job.config):
        report.skip_reason = f"disabled in {CONFIG_RELPATH} (phases.{job.name}.enabled = false)"
    else:
        ending = _run_runner(job, _context(job, phase_deadline, log), report)
    duration_ms = max(0, int((job.clock() - started) * 1000))
    result = _result(job, report, ending, run_bound, duration_ms)
    log.line("OBSERVATIONS:")
    for observation in result.observations or []:
        log.line(f"  [{observation.prefix or ''}] {observation.text}")
    log.line(f"=== {result.status.value} in {duration_ms} ms" + (f": {result.error}" if result.error else ""))
    return PhaseRun(result, log.getvalue(), ending.timed_out and run_bound)


def _context(job: PhaseJob, deadline: float, log: LogBuffer) -> PhaseContext:
    phase_config = job.config.phases.get(job.name) or PhaseConfig()
    reports_dir = job.workspace.reports
    env = {
        **job.base_env,
        **phase_config.env,
        "TESTGENIE_PHASE": job.name,
        "TESTGENIE_REPORTS_DIR": str(reports_dir),
    }
    if job.shard is not None:  # the scenario's commands select their part (docs/scenarios.md, "Shards")
        env["TESTGENIE_SHARD_INDEX"] = str(job.shard.index)
        env["TESTGENIE_SHARD_COUNT"] = str(job.shard.count)
    return PhaseContext(
        name=job.name,
        scenario_dir=job.workspace.scenario_dir,
        config=phase_config,
        testing=job.config,
        env=env,
        reports_dir=reports_dir,
        scratch_dir=job.workspace.tmp,
        deadline=deadline,
        log=log,
        run=job.run,
        script=job.script,
        clock=job.clock,
        shard=job.shard,
    )


def _run_runner(job: PhaseJob, ctx: PhaseContext, report: PhaseReport) -> _Ending:
    try:
        job.workspace.clear_reports()
        phase_kind(job.name)(ctx, report)
    except PhaseTimeout as exc:
        ctx.log.line(f"[test-genie] {exc}")
        return _Ending(timed_out=True)
    except Exception as exc:  # a runner bug fails its phase, not the run
        crash = f"the {job.name} runner crashed: {type(exc).__name__}: {exc}"
        ctx.log.line(f"[test-genie] {crash}")
        ctx.log.write(traceback.format_exc().encode())
        return _Ending(crash=crash)
    return _Ending()


def _result(
    job: PhaseJob, report: PhaseReport, ending: _Ending, run_bound: bool, duration_ms: int
) -> PhaseResult:
    observations = list(report.observations)
    status = PhaseStatus.PASSED
    error = classification = remediation = None
    if ending.timed_out:
        status = PhaseStatus.FAILED
        classification = Classification.TIMEOUT
        remediation = TIMEOUT_REMEDIATION
        error = (
            "phase stopped at the run's deadline"
            if run_bound
            else f"phase timed out after {format_duration(job.timeout)}"
        )
    elif ending.crash:
        status = PhaseStatus.FAILED
        error, classification = ending.crash, Classification.SYSTEM
        remediation = "This is a test-genie bug; the phase log has the traceback."
    elif report.failures:
        first = report.failures[0]
        status = PhaseStatus.FAILED
        more = len(report.failures) - 1
        error = first.message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
        classification, remediation = first.classification, first.remediation
    elif report.checks == 0:
        status = PhaseStatus.SKIPPED
        observations.append(Observation(icon="⏭️", prefix="SKIP", text=f"{job.name}: {report.skip_reason}"))
    if status == PhaseStatus.FAILED and error and not classification:
        classification = Classification.SYSTEM
    return PhaseResult(
        name=job.name,
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
