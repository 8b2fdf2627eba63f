"""Scenario-defined phases: `.testgenie/phases/test-<name>.sh` (run with bash) and/or configured commands."""

from __future__ import annotations

from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.process import Command


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = f"phase '{ctx.name}' has no script and no commands"
    extra: list[Command] = []
    if ctx.script is not None:
        extra.append(("bash", ctx.script.relative_to(ctx.scenario_dir).as_posix()))
    run_commands_and_tests(ctx, report, extra)
