"""Selection rules (reference §2.5, §2.6, §7) with the §8 fixes, as tables."""

from __future__ import annotations

from typing import Any

import pytest
from testgenie.errors import ValidationError
from testgenie.orchestrator.models import SuitePlan
from testgenie.orchestrator.planning.catalog import PHASE_NAMES
from testgenie.orchestrator.planning.plan import build_plan
from testgenie.orchestrator.planning.testing_config import TestingConfig

ALL = list(PHASE_NAMES)


def plan(
    config: dict[str, Any] | None = None,
    scripts: tuple[str, ...] = (),
    default_timeout: int = 900,
    **request: Any,
) -> Any:
    req = SuitePlan(scenario_name=request.pop("scenario", "demo"), **request)
    return build_plan(req, TestingConfig.model_validate(config or {}), scripts, default_timeout)


@pytest.mark.parametrize(
    ("request_fields", "expected_phases", "expected_preset"),
    [
        ({}, ALL, None),
        ({"preset": "quick"}, ["structure", "standards", "docs", "unit"], "quick"),
        ({"preset": " Quick "}, ["structure", "standards", "docs", "unit"], "quick"),
        ({"preset": "smoke"}, ["structure", "standards", "lint", "docs", "integration"], "smoke"),
        ({"preset": "COMPREHENSIVE"}, [p for p in ALL if p != "smoke"], "comprehensive"),
        ({"phases": ["unit", "structure"]}, ["unit", "structure"], None),
        ({"phases": ["unit"], "preset": "quick"}, ["unit"], None),
        ({"phases": ["Unit", "unit", " UNIT "]}, ["unit"], None),
        ({"phases": ["", "  "]}, ALL, None),
        ({"preset": "quick", "skip": ["standards", "DOCS"]}, ["structure", "unit"], "quick"),
        ({"skip": ["smoke", "performance"]}, [p for p in ALL if p not in {"smoke", "performance"}], None),
        ({"phases": ["unit", "lint"], "skip": ["lint"]}, ["unit"], None),
        ({"preset": "quick", "skip": ["nonexistent"]}, ["structure", "standards", "docs", "unit"], "quick"),
    ],
)
def test_selection(
    request_fields: dict[str, Any], expected_phases: list[str], expected_preset: str | None
) -> None:
    result = plan(**request_fields)
    assert result.phases == expected_phases
    assert result.preset == expected_preset


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"preset": "nope"}, r"preset 'nope' is not defined \(known: "),
        ({"phases": ["unit", "e2e"]}, r"phase 'e2e' is not defined \(known: "),
        ({"preset": "smok"}, r"preset 'smok' is not defined; did you mean 'smoke'\? \(known: "),
        ({"phases": ["unti"]}, r"phase 'unti' is not defined; did you mean 'unit'\? \(known: "),
        ({"phases": ["unit"], "skip": ["unit"]}, "no phases selected for execution"),
        ({"preset": "quick", "skip": ["structure", "standards", "docs", "unit"]}, "no phases selected"),
        ({"scenario": ""}, "scenarioName is required"),
        ({"scenario": "../bad"}, "scenarioName must contain only"),
        ({"scenario": "a b"}, "scenarioName must contain only"),
    ],
)
def test_invalid_requests_are_validation_errors(request_fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        plan(**request_fields)


def test_many_copies_of_a_phase_give_one_warning_per_name() -> None:
    result = plan(phases=["unit"] * 1000 + ["docs", "DOCS"] * 500, skip=["bogus"] * 300)

    assert result.phases == ["unit", "docs"]
    assert result.warnings == [
        "phase 'unit' was requested more than once; it runs once",
        "phase 'docs' was requested more than once; it runs once",
        "skip: phase 'bogus' is not defined; ignored",
    ]


def test_warnings_for_duplicates_ignored_preset_and_unknown_skip() -> None:
    result = plan(phases=["unit", "unit"], preset="quick", skip=["bogus"])
    assert result.warnings == [
        "phase 'unit' was requested more than once; it runs once",
        "preset 'quick' was ignored because phases were given explicitly",
        "skip: phase 'bogus' is not defined; ignored",
    ]


def test_scenario_presets_replace_and_add() -> None:
    config = {"presets": {"quick": ["unit"], "Focused": ["unit", "performance", "unit"]}}
    assert plan(config, preset="quick").phases == ["unit"]
    focused = plan(config, preset="focused")
    assert focused.phases == ["unit", "performance"]  # order kept, de-duplicated
    assert focused.preset == "focused"
    assert plan(config, preset="smoke").phases == ["structure", "standards", "lint", "docs", "integration"]


def test_scenario_preset_with_unknown_phase_names_file_and_field() -> None:
    with pytest.raises(ValidationError) as caught:
        plan({"presets": {"focused": ["unit", "e2e"]}}, preset="focused")
    assert caught.value.message == (
        "invalid .testgenie/testing.json: presets.focused[1]: phase 'e2e' is not defined"
    )


def test_disabled_phase_stays_planned_and_explicit_request_warns() -> None:
    config = {"phases": {"integration": {"enabled": False}}}
    assert "integration" in plan(config).phases  # it shows up as `skipped`, not missing
    explicit = plan(config, phases=["integration"])
    assert explicit.phases == ["integration"]
    assert any("disabled" in w for w in explicit.warnings)


def test_timeouts_from_catalog_default_and_config() -> None:
    result = plan(default_timeout=42)
    assert result.timeouts == dict.fromkeys(ALL, 42) | {"standards": 60, "lint": 30, "docs": 60}
    configured = plan(
        {"phases": {"unit": {"timeout": "90s"}, "lint": {"timeout": "5m"}, "docs": {"timeout": 7}}}
    )
    assert (configured.timeouts["unit"], configured.timeouts["lint"], configured.timeouts["docs"]) == (
        90,
        300,
        7,
    )


def test_custom_phases_from_scripts_and_config_run_after_the_catalog() -> None:
    config = {"phases": {"zeta": {"commands": ["true"], "timeout": "3s"}}}
    result = plan(config, scripts=("slow", "alpha"))
    assert result.phases == [*ALL, "alpha", "slow", "zeta"]
    assert result.timeouts["zeta"] == 3
    assert plan(config, scripts=("slow",), phases=["slow"]).phases == ["slow"]


def test_a_script_named_like_a_catalog_phase_is_ignored_with_a_warning() -> None:
    result = plan(scripts=("unit",))
    assert result.phases == ALL
    assert result.warnings == [".testgenie/phases/test-unit.sh was ignored: 'unit' is a catalog phase"]


def test_a_configured_custom_phase_without_commands_or_script_is_an_error() -> None:
    with pytest.raises(ValidationError, match=r"testing.json: phases.ghost: 'ghost' is not a catalog phase"):
        plan({"phases": {"ghost": {"timeout": "1s"}}})


def test_fail_fast_is_carried() -> None:
    assert plan(fail_fast=True).fail_fast is True
    assert plan().fail_fast is False
