"""Helpers shared by the orchestrator tests: phase contexts, runs of one phase, process checks."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from testgenie.artifacts import ArtifactStore
from testgenie.orchestrator.phases import phase_kind
from testgenie.orchestrator.phases.base import LogBuffer, PhaseContext, PhaseReport, RunState
from testgenie.orchestrator.planning.testing_config import PhaseConfig, TestingConfig
from testgenie.orchestrator.run.engine import InProcessPhases, SuiteOrchestrator
from testgenie.orchestrator.sources.base import ScenarioSource


def process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_gone(pid: int, attempts: int = 500) -> bool:
    """Poll (killed processes vanish asynchronously); False if it is still running after the polls."""
    for _ in range(attempts):
        if not process_alive(pid):
            return True
        time.sleep(0.01)
    return not process_alive(pid)


def phase_context(
    scenario_dir: Path,
    name: str,
    testing: dict[str, Any] | None = None,
    *,
    seconds: float = 60.0,
    run: RunState | None = None,
    env: dict[str, str] | None = None,
) -> PhaseContext:
    """A context as the engine builds it, over a scenario folder the test made."""
    config = TestingConfig.model_validate(testing or {})
    work = scenario_dir.parent / f".work-{name}"
    reports, scratch = work / "reports", work / "scratch"
    reports.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    base = {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]), "LANG": "C.UTF-8"}
    script = scenario_dir / ".testgenie" / "phases" / f"test-{name}.sh"
    return PhaseContext(
        name=name,
        scenario_dir=scenario_dir,
        config=config.phases.get(name) or PhaseConfig(),
        testing=config,
        env={**base, **config.env, **(env or {}), "TESTGENIE_REPORTS_DIR": str(reports)},
        reports_dir=reports,
        scratch_dir=scratch,
        deadline=time.monotonic() + seconds,
        log=LogBuffer(),
        run=run or RunState(),
        script=script if script.is_file() else None,
    )


def run_phase(ctx: PhaseContext) -> PhaseReport:
    report = PhaseReport()
    phase_kind(ctx.name)(ctx, report)
    return report


def outcome(report: PhaseReport) -> str:
    """passed / failed / skipped, as the engine decides it."""
    if report.failures:
        return "failed"
    return "passed" if report.checks else "skipped"


def in_process_engine(
    scenarios: ScenarioSource, artifacts: ArtifactStore, default_phase_timeout: int = 900, **options: Any
) -> SuiteOrchestrator:
    """The orchestrator with its phases in this process (InProcessPhases, `options` its settings):
    tests only, never a service holding keys."""
    executor = InProcessPhases(scenarios, artifacts, default_phase_timeout, **options)
    return SuiteOrchestrator(scenarios, artifacts, default_phase_timeout, executor=executor)
