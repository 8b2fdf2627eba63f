"""smoke: is the running service up? HTTP GETs with expected status and text within a budget."""

from __future__ import annotations

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.http import run_http_checks
from testgenie.orchestrator.planning.testing_config import HttpChecksConfig


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no smoke checks configured (phases.smoke.checks)"
    if isinstance(ctx.config, HttpChecksConfig):
        run_http_checks(ctx, report, ctx.config.checks, unreachable=Classification.MISSING_DEPENDENCY)
    run_commands_and_tests(ctx, report)
