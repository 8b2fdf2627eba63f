"""Runners, wired to phase names. A runner fills a PhaseReport; no checks at all means `skipped`."""

from __future__ import annotations

from testgenie.orchestrator.runners import (
    business,
    custom,
    dependencies,
    docs,
    integration,
    lint,
    performance,
    playbooks,
    smoke,
    standards,
    structure,
    unit,
)
from testgenie.orchestrator.runners.base import Runner

RUNNERS: dict[str, Runner] = {
    "structure": structure.run,
    "standards": standards.run,
    "dependencies": dependencies.run,
    "lint": lint.run,
    "docs": docs.run,
    "smoke": smoke.run,
    "unit": unit.run,
    "integration": integration.run,
    "playbooks": playbooks.run,
    "business": business.run,
    "performance": performance.run,
}
CUSTOM_RUNNER: Runner = custom.run


def runner_for(name: str) -> Runner:
    return RUNNERS.get(name, CUSTOM_RUNNER)
