"""The phase catalog: names, order, default timeouts, descriptions and the built-in presets.

Kept free of runner imports (and of anything heavy) because the history function imports it to
answer GET /phases; the engine wires runners to these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The default per-phase timeout, 15 minutes (docs/scenarios.md).
DEFAULT_PHASE_TIMEOUT_SECONDS = 900
# Custom phases sort after every catalog phase (docs/scenarios.md).
CUSTOM_PHASE_WEIGHT = 1000

PHASE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# What a scenario may be called: its folder, its bundle key and every API that names it (docs/api.md).
SCENARIO_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
SCENARIO_NAME_RULE = "must contain only letters, digits, '-' and '_'"
MAX_SCENARIO_NAME_LENGTH = 200
SCENARIO_NAME_REQUIRED = "scenarioName is required"


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    weight: int
    optional: bool
    description: str
    # None: the orchestrator's default phase timeout.
    default_timeout_seconds: int | None = None
    source: str = "native"

    def timeout(self, default_timeout: int) -> int:
        return self.default_timeout_seconds or default_timeout


CATALOG: tuple[PhaseSpec, ...] = (
    PhaseSpec(
        "structure",
        0,
        False,
        "Checks the scenario layout: required paths exist and every JSON file under .testgenie/ parses.",
    ),
    PhaseSpec(
        "standards",
        10,
        False,
        "Runs the scenario's configured standards commands (conventions, licences, audits).",
        60,
    ),
    PhaseSpec(
        "dependencies",
        20,
        False,
        "Confirms required commands are on PATH, required variables are set and endpoints answer.",
    ),
    PhaseSpec("lint", 30, False, "Runs the scenario's configured linters and type checkers.", 30),
    PhaseSpec(
        "docs",
        40,
        False,
        "Validates Markdown: relative links resolve, code fences are closed, mermaid blocks are not empty.",
        60,
    ),
    PhaseSpec(
        "smoke",
        50,
        True,
        "Probes the running service over HTTP: expected status and text within a latency budget.",
    ),
    PhaseSpec(
        "unit",
        60,
        False,
        "Runs unit tests (configured commands, else pytest, go test or npm test when detected) "
        "and reads their JUnit XML.",
    ),
    PhaseSpec(
        "integration",
        70,
        False,
        "Runs HTTP checks with status, body and latency expectations, and integration test commands.",
    ),
    PhaseSpec(
        "playbooks",
        80,
        False,
        "Runs playbooks/*.json: ordered HTTP steps with expectations and captured values.",
    ),
    PhaseSpec(
        "business",
        90,
        False,
        "Maps requirements/*.json to passing tests tagged [REQ:<id>] in this run; "
        "uncovered critical requirements fail.",
    ),
    PhaseSpec(
        "performance",
        100,
        True,
        "Runs HTTP load probes against p95 latency budgets, and performance commands.",
    ),
)

PHASES_BY_NAME: dict[str, PhaseSpec] = {spec.name: spec for spec in CATALOG}
PHASE_NAMES: tuple[str, ...] = tuple(spec.name for spec in CATALOG)

# Reference §2.2, exactly (comprehensive has 10 phases: no smoke).
DEFAULT_PRESETS: dict[str, tuple[str, ...]] = {
    "quick": ("structure", "standards", "docs", "unit"),
    "smoke": ("structure", "standards", "lint", "docs", "integration"),
    "comprehensive": (
        "structure",
        "standards",
        "dependencies",
        "lint",
        "docs",
        "unit",
        "integration",
        "playbooks",
        "business",
        "performance",
    ),
}


def normalize_name(raw: str) -> str:
    """Phase and preset names are case-insensitive and trimmed."""
    return raw.strip().lower()


def custom_phase_spec(name: str, default_timeout: int = DEFAULT_PHASE_TIMEOUT_SECONDS) -> PhaseSpec:
    return PhaseSpec(
        name,
        CUSTOM_PHASE_WEIGHT,
        False,
        f"Scenario-defined phase '{name}' (.testgenie/phases/test-{name}.sh or configured commands).",
        default_timeout,
        source="scenario",
    )


def phase_descriptors(default_timeout: int = DEFAULT_PHASE_TIMEOUT_SECONDS) -> list[dict[str, Any]]:
    """The catalog as GET /phases shows it, in run order."""
    return [
        {
            "name": spec.name,
            "optional": spec.optional,
            "description": spec.description,
            "source": spec.source,
            "defaultTimeoutSeconds": spec.timeout(default_timeout),
        }
        for spec in CATALOG
    ]
