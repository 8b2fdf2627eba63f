"""structure: required paths exist (inside the scenario) and every JSON file under .testgenie/ parses."""

from __future__ import annotations

import json
from pathlib import Path

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.planning.testing_config import StructureConfig

_FIX_LAYOUT = "Add the missing path, or remove it from phases.structure.requiredPaths."


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    config = ctx.config
    required = config.required_paths if isinstance(config, StructureConfig) else []
    for relative in required:
        path = ctx.scenario_dir / relative
        if Path(relative).is_absolute() or not _within(path, ctx.scenario_dir):
            report.fail(
                f"required path '{relative}' is outside the scenario",
                Classification.MISCONFIGURATION,
                "requiredPaths are relative to the scenario folder.",
            )
        elif path.exists():
            report.ok(f"'{relative}' exists")
        else:
            report.fail(
                f"required path '{relative}' is missing", Classification.MISCONFIGURATION, _FIX_LAYOUT
            )

    meta = ctx.scenario_dir / ".testgenie"
    json_files = sorted(p for p in meta.rglob("*.json") if p.is_file()) if meta.is_dir() else []
    for path in json_files:
        relative = path.relative_to(ctx.scenario_dir).as_posix()
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            report.fail(
                f"{relative} is not valid JSON: {exc}", Classification.MISCONFIGURATION, f"Fix {relative}."
            )
        else:
            report.ok(f"{relative} parses")
    ctx.log.line(f"[structure] {len(required)} required paths, {len(json_files)} JSON files checked")
    run_commands_and_tests(ctx, report)
