"""lint: the scenario's own linters and type checkers."""

from __future__ import annotations

from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no lint commands configured (phases.lint.commands)"
    run_commands_and_tests(ctx, report)
