"""business: every requirement in `requirements/*.json` should be covered by a passing test of this run.

A test covers requirement X when its name contains `[REQ:X]` (pytest: `ids=["REQ:X"]`). An uncovered
or failing critical requirement fails the phase; a non-critical one is a warning.
"""

from __future__ import annotations

import json
import re

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.planning.testing_config import BusinessConfig, ConfigModel

_TAG_RE = re.compile(r"\[REQ:([^\]\s]+)\]")


class Requirement(ConfigModel):
    id: str = Field(min_length=1)
    title: str | None = None
    critical: bool = False


class RequirementsFile(ConfigModel):
    requirements: list[Requirement] = Field(default_factory=list)


def covered_requirements(ctx: PhaseContext) -> tuple[set[str], set[str]]:
    """(ids with a passing tagged test, ids with a failing tagged test) among this run's tests."""
    passing: set[str] = set()
    failing: set[str] = set()
    for case in ctx.run.test_cases:
        for req in _TAG_RE.findall(f"{case.classname} {case.name}"):
            if case.status == "passed":
                passing.add(req)
            elif case.status in {"failed", "errored"}:
                failing.add(req)
    return passing, failing


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    config = ctx.config if isinstance(ctx.config, BusinessConfig) else BusinessConfig()
    report.skip_reason = f"no requirements found ({config.dir}/*.json)"
    folder = ctx.scenario_dir / config.dir
    requirements: list[tuple[str, Requirement]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        label = f"{config.dir}/{path.name}"
        try:
            loaded = RequirementsFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, OSError, PydanticValidationError) as exc:
            report.fail(
                f"{label} is not a valid requirements file: {str(exc).splitlines()[0]}",
                Classification.MISCONFIGURATION,
                f'Fix {label}: {{"requirements": [{{"id": "...", "critical": true}}]}}.',
            )
            continue
        requirements.extend((label, req) for req in loaded.requirements)

    if requirements:
        passing, failing = covered_requirements(ctx)
        ctx.log.line(
            f"[business] {len(requirements)} requirements; {len(ctx.run.test_cases)} tests ran earlier in this run"
        )
        for label, req in requirements:
            title = f"{req.id}" + (f" ({req.title})" if req.title else "")
            if req.id in failing:
                state = "has a failing test"
            elif req.id in passing:
                report.ok(f"{title} is covered by a passing test")
                ctx.log.line(f"[business] covered: {req.id}")
                continue
            else:
                state = "is not covered by any passing test in this run"
            ctx.log.line(f"[business] {state}: {req.id} ({label})")
            if req.critical:
                report.fail(
                    f"critical requirement {title} {state}",
                    Classification.TEST_FAILURE,
                    f"Add or fix a test named with [REQ:{req.id}] and run it in the same suite "
                    "(before the business phase).",
                )
            else:
                report.warn(f"requirement {title} {state}")
                report.checks += 1
    run_commands_and_tests(ctx, report)
