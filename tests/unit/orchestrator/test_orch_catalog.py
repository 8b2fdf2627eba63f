"""The catalog and presets against reference §2.1 / §2.2."""

from __future__ import annotations

import subprocess
import sys

from testgenie.orchestrator.planning.catalog import CATALOG, DEFAULT_PRESETS, phase_descriptors

REFERENCE_ORDER = [
    "structure",
    "standards",
    "dependencies",
    "lint",
    "docs",
    "smoke",
    "unit",
    "integration",
    "playbooks",
    "business",
    "performance",
]


def test_eleven_phases_in_reference_order_with_weights() -> None:
    assert [spec.name for spec in CATALOG] == REFERENCE_ORDER
    assert [spec.weight for spec in CATALOG] == list(range(0, 110, 10))


def test_only_smoke_and_performance_are_optional() -> None:
    assert {spec.name for spec in CATALOG if spec.optional} == {"smoke", "performance"}


def test_descriptors_carry_default_timeouts() -> None:
    descriptors = phase_descriptors(default_timeout=900)
    timeouts = {d["name"]: d["defaultTimeoutSeconds"] for d in descriptors}
    assert timeouts == dict.fromkeys(REFERENCE_ORDER, 900) | {"standards": 60, "lint": 30, "docs": 60}
    assert all(
        set(d) == {"name", "optional", "description", "source", "defaultTimeoutSeconds"} for d in descriptors
    )
    assert {d["source"] for d in descriptors} == {"native"}
    assert all(d["description"] for d in descriptors)
    assert phase_descriptors(default_timeout=42)[0]["defaultTimeoutSeconds"] == 42


def test_default_presets_are_exactly_the_references() -> None:
    assert DEFAULT_PRESETS == {
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
    assert "smoke" not in DEFAULT_PRESETS["comprehensive"]


def test_catalog_imports_nothing_heavy() -> None:
    """The history function imports the catalog: no boto3, no runners, no engine, no subprocess use."""
    code = (
        "import sys, testgenie.orchestrator.planning.catalog as c; c.phase_descriptors();"
        "heavy = [m for m in ('boto3', 'botocore', 'testgenie.orchestrator.phases', "
        "'testgenie.orchestrator.run.engine', 'testgenie.orchestrator.run.workspace', 'pydantic') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "layers/core"},
        cwd=__file__.rsplit("/tests/", 1)[0],
    )
    assert result.stdout.strip() == ""
