"""unit: configured commands, else detected test runners (pytest, go test, npm test), with JUnit counts."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.process import Command
from testgenie.orchestrator.phases.sharding import is_detected_pytest, only_these_tests
from testgenie.orchestrator.planning.testing_config import TestingConfig, UnitConfig

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


def split_by_test_id(config: TestingConfig, scenario_dir: Path, reports_dir: Path) -> Command | None:
    """The detected pytest command when the unit phase's shards split its tests by id (no commands,
    pytest the only runner found); None: its shards run the commands (docs/scenarios.md, "Shards")."""
    unit = config.phases.unit
    if unit.commands or not unit.detect:
        return None
    detected = detect_commands(scenario_dir, reports_dir)
    return detected[0] if len(detected) == 1 and is_detected_pytest(detected[0]) else None


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no unit test commands configured and no pytest, go or npm tests detected"
    detect = ctx.config.detect if isinstance(ctx.config, UnitConfig) else True
    extra: list[Command] = []
    if not ctx.config.commands and detect:
        extra = detect_commands(ctx.scenario_dir, ctx.reports_dir)
        for command in extra:
            ctx.log.line(f"[unit] detected: {command[0] if isinstance(command, tuple) else command}")
    shard = ctx.shard
    if shard is not None and shard.tests is not None and len(extra) == 1 and is_detected_pytest(extra[0]):
        ctx.log.line(f"[unit] shard {shard.index} of {shard.count}: {len(shard.tests)} tests")
        command, env = only_these_tests(extra[0], ctx.env, shard.tests, ctx.scratch_dir)
        ctx, extra = replace(ctx, env=env), [command]
    run_commands_and_tests(ctx, report, extra)
