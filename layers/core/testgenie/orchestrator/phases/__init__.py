"""The phase kinds, wired to phase names. A kind fills a PhaseReport; no checks at all means `skipped`."""

from __future__ import annotations

from testgenie.orchestrator.phases import (
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
from testgenie.orchestrator.phases.base import PhaseKind

PHASE_KINDS: dict[str, PhaseKind] = {
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
CUSTOM_KIND: PhaseKind = custom.run


def phase_kind(name: str) -> PhaseKind:
    return PHASE_KINDS.get(name, CUSTOM_KIND)
