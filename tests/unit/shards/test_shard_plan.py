"""Which phases of a plan run as shards: testing.json's `shards`, a request's override, MaxShards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testgenie.errors import ValidationError
from testgenie.orchestrator.models import SuitePlan
from testgenie.orchestrator.planning.plan import build_plan
from testgenie.orchestrator.planning.testing_config import parse_testing_config


def _plan(configured: dict[str, Any], shards: Any = None, max_shards: int = 16, **request: Any) -> Any:
    config = parse_testing_config(json.dumps({"phases": configured}))
    asked = SuitePlan(scenario_name="demo", shards=shards, **request)
    return build_plan(asked, config, max_shards=max_shards)


def test_testing_json_shards_a_phase_by_count_or_auto() -> None:
    plan = _plan({"unit": {"shards": 4}, "integration": {"shards": "auto"}, "lint": {"shards": 1}})
    assert plan.shards == {"unit": 4, "integration": "auto"}  # one shard is no sharding


def test_a_request_overrides_the_sharded_phases_else_unit() -> None:
    assert _plan({"integration": {"shards": 2}}, shards=8).shards == {"integration": 8}
    assert _plan({}, shards=3).shards == {"unit": 3}
    assert _plan({}, shards="auto").shards == {"unit": "auto"}
    assert _plan({"unit": {"shards": 4}}, shards=1).shards == {}
    not_planned = _plan({}, shards=3, phases=["lint"])
    assert not_planned.shards == {}
    assert any("unit is not planned" in warning for warning in not_planned.warnings)


def test_a_request_above_max_shards_is_refused_naming_the_limit() -> None:
    with pytest.raises(ValidationError, match=r"^shards must be between 1 and 8 \(MaxShards\), not 9$"):
        _plan({}, shards=9, max_shards=8)
    with pytest.raises(ValidationError, match="not 0"):
        _plan({}, shards=0)


def test_testing_json_above_max_shards_is_capped_with_a_warning() -> None:
    plan = _plan({"unit": {"shards": 40}}, max_shards=16)
    assert plan.shards == {"unit": 16}
    assert "phase 'unit' asks for 40 shards; it runs 16 (MaxShards)" in plan.warnings


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "phases.unit.shards"),
        ("many", "phases.unit.shards"),
        (True, "phases.unit.shards"),
        ("4", "phases.unit.shards"),
    ],
)
def test_a_bad_shards_value_in_testing_json_names_the_field(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_testing_config(json.dumps({"phases": {"unit": {"shards": value}}}))


def test_the_override_is_kept_with_what_was_requested() -> None:
    assert SuitePlan(scenario_name="d", shards=4).requested()["shards"] == 4
    assert "shards" not in SuitePlan(scenario_name="d").requested()
