"""The runner's answer to a collect_only invocation: what a sharded phase splits.

A `unit` phase whose tests Test Genie detects with pytest is split by test id: its ids are collected
here once (`pytest --collect-only`); a collection error is pytest's own message, and the phase fails
with it before any shard starts. Any other phase is split by its commands (docs/scenarios.md,
"Shards").
"""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID

from testgenie.orchestrator.models import Classification, PhaseResult, PhaseStatus
from testgenie.orchestrator.phases.base import LogBuffer
from testgenie.orchestrator.phases.sharding import collect
from testgenie.orchestrator.phases.unit import split_by_test_id
from testgenie.orchestrator.planning.testing_config import load_testing_config
from testgenie.orchestrator.run.workspace import Workspace, command_environment, fresh_workspace
from testgenie.runner.protocol import CollectionAnswer, PhaseInvocation


def collect_phase(
    invocation: PhaseInvocation, deadline: float | None, parent: Path | None
) -> tuple[CollectionAnswer, PhaseResult, bytes]:
    """(what the phase splits, a result saying how collection went, the collection's log)."""
    log = LogBuffer()
    log.line(f"=== test-genie collects phase '{invocation.phase}' of {invocation.scenario_name}")
    started = time.monotonic()
    with fresh_workspace(
        invocation.bundle, invocation.execution_id, scenario=invocation.scenario_name, parent=parent
    ) as workspace:
        config = load_testing_config(workspace.scenario_dir)
        command = (
            split_by_test_id(config, workspace.scenario_dir, workspace.reports)
            if invocation.phase == "unit"
            else None
        )
        if command is None:
            log.line("[test-genie] not a detected pytest phase: every shard runs the phase's commands")
            answer = CollectionAnswer(mode="commands")
        else:
            env = _phase_env(invocation.execution_id, invocation.phase, config.env, workspace)
            env.update(config.phases.unit.env)
            bound = started + invocation.timeout_seconds
            collected = collect(
                command,
                cwd=workspace.scenario_dir,
                env=env,
                deadline=min(bound, deadline) if deadline is not None else bound,
                log=log,
                scratch=workspace.tmp,
            )
            answer = CollectionAnswer(mode="tests", test_ids=list(collected.test_ids), error=collected.error)
    duration_ms = int((time.monotonic() - started) * 1000)
    log.line(
        f"=== collected {len(answer.test_ids)} tests in {duration_ms} ms"
        if answer.error is None
        else f"=== {answer.error}"
    )
    return answer, _result(invocation.phase, answer, duration_ms), log.getvalue()


def _phase_env(
    execution_id: UUID, phase: str, scenario_env: dict[str, str], workspace: Workspace
) -> dict[str, str]:
    env = command_environment(workspace, execution_id, scenario_env)
    env["TESTGENIE_PHASE"] = phase
    env["TESTGENIE_REPORTS_DIR"] = str(workspace.reports)
    return env


def _result(phase: str, answer: CollectionAnswer, duration_ms: int) -> PhaseResult:
    if answer.error is None:
        return PhaseResult(
            name=phase,
            status=PhaseStatus.PASSED,
            duration_ms=duration_ms,
            duration_seconds=PhaseResult.seconds_from_ms(duration_ms),
        )
    return PhaseResult(
        name=phase,
        status=PhaseStatus.FAILED,
        duration_ms=duration_ms,
        duration_seconds=PhaseResult.seconds_from_ms(duration_ms),
        error=answer.error,
        classification=Classification.MISCONFIGURATION,
        remediation="Fix what pytest reports (an import error, a syntax error, a bad conftest) and re-run.",
    )
