"""unit: configured commands, else detected test runners (pytest, go test, npm test), with JUnit counts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.process import Command
from testgenie.orchestrator.planning.testing_config import UnitConfig

_SKIP_DIRS = {"node_modules", "venv", "__pycache__", "vendor", "dist", "build"}
_NPM_PLACEHOLDER = "no test specified"  # what `npm init` puts in scripts.test


def _has_python_tests(root: Path) -> bool:
    for _dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
        if any(
            name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
            for name in filenames
        ):
            return True
    return False


def _npm_test_script(root: Path) -> bool:
    try:
        package = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    script = package.get("scripts", {}).get("test") if isinstance(package, dict) else None
    return isinstance(script, str) and bool(script.strip()) and _NPM_PLACEHOLDER not in script


def detect_commands(root: Path, reports_dir: Path) -> list[Command]:
    """Test runners the scenario's layout implies. pytest runs with the service's interpreter."""
    commands: list[Command] = []
    if _has_python_tests(root):
        commands.append(
            (
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={reports_dir / 'pytest.xml'}",
            )
        )
    if (root / "go.mod").is_file():
        commands.append(("go", "test", "./..."))
    if _npm_test_script(root):
        commands.append(("npm", "test", "--silent"))
    return commands


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no unit test commands configured and no pytest, go or npm tests detected"
    detect = ctx.config.detect if isinstance(ctx.config, UnitConfig) else True
    extra: list[Command] = []
    if not ctx.config.commands and detect:
        extra = detect_commands(ctx.scenario_dir, ctx.reports_dir)
        for command in extra:
            ctx.log.line(f"[unit] detected: {command[0] if isinstance(command, tuple) else command}")
    run_commands_and_tests(ctx, report, extra)
