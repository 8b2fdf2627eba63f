"""standards: the scenario's own standards commands (conventions, licence headers, audits)."""

from __future__ import annotations

from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no standards commands configured (phases.standards.commands)"
    run_commands_and_tests(ctx, report)
