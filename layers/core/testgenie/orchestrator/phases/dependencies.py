"""dependencies: commands on PATH, variables set, endpoints answering — before any test needs them."""

from __future__ import annotations

import shutil

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.http import run_http_checks
from testgenie.orchestrator.phases.process import MISSING_COMMAND_REMEDIATION
from testgenie.orchestrator.planning.testing_config import DependenciesConfig


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no dependencies declared (phases.dependencies)"
    config = ctx.config
    if isinstance(config, DependenciesConfig):
        path = ctx.env.get("PATH", "")
        for command in config.required_commands:
            found = shutil.which(command, path=path)
            if found:
                report.ok(f"command '{command}' found at {found}")
            else:
                report.fail(
                    f"command '{command}' is not on PATH",
                    Classification.MISSING_DEPENDENCY,
                    f"'{command}' is not on the runner. {MISSING_COMMAND_REMEDIATION}",
                )
        for name in config.required_env:
            if ctx.env.get(name):
                report.ok(f"variable {name} is set")
            else:
                report.fail(
                    f"variable {name} is not set",
                    Classification.MISCONFIGURATION,
                    f"Set {name} in env of .testgenie/testing.json.",
                )
        run_http_checks(ctx, report, config.endpoints, unreachable=Classification.MISSING_DEPENDENCY)
    run_commands_and_tests(ctx, report)
