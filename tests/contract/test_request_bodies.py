"""Every JSON body the API takes is closed: openapi.json lists its fields with
additionalProperties: false, the server takes exactly those (camelCase) and refuses any other key,
and the CLI's bodies, built with every option it has, hold only such fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from testgenie.entrypoints.models import RerunBody, SuiteExecutionBody, SuiteRequestBody
from testgenie.entrypoints.schedule import SchedulerEvent
from testgenie.entrypoints.sqs import SuiteRequestSqsMessage
from testgenie.models_base import NoFields, wire_names
from testgenie_local.cli import build_parser
from testgenie_local.commands.common import plan_body

from tests.support.paths import REPO_ROOT

DOCUMENT: dict[str, Any] = json.loads((REPO_ROOT / "openapi.json").read_text())
BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", "/api/v1/executions"): SuiteExecutionBody,
    ("post", "/api/v1/suite-requests"): SuiteRequestBody,
    ("post", "/api/v1/executions/{executionId}/rerun"): RerunBody,
    ("post", "/api/v1/suite-requests/{requestId}/cancel"): NoFields,
    ("post", "/api/v1/executions/{executionId}/pin"): NoFields,
}

# Each body model once (cancel and pin share NoFields), and the two non-HTTP ones.
MODELS: list[type[BaseModel]] = [*dict.fromkeys(BODIES.values()), SchedulerEvent, SuiteRequestSqsMessage]


def _schema_of(method: str, path: str) -> dict[str, Any]:
    schema: dict[str, Any] = DOCUMENT["paths"][path][method]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    refs = [schema, *schema.get("anyOf", [])]
    name = next(s["$ref"] for s in refs if "$ref" in s).rsplit("/", 1)[-1]
    found: dict[str, Any] = DOCUMENT["components"]["schemas"][name]
    return found


def test_every_route_with_a_body_is_listed_here() -> None:
    with_body = {
        (method, path)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }
    assert with_body == set(BODIES)


@pytest.mark.parametrize(("route", "model"), list(BODIES.items()), ids=lambda v: str(v))
def test_openapi_lists_exactly_the_fields_the_server_takes(
    route: tuple[str, str], model: type[BaseModel]
) -> None:
    schema = _schema_of(*route)
    assert schema["additionalProperties"] is False
    assert sorted(schema["properties"]) == sorted(wire_names(model))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_other_key_is_refused_and_snake_case_names_too(model: type[BaseModel]) -> None:
    base = {"action": "reap"} if "action" in wire_names(model) else {}
    if not model.model_fields:  # cancel and pin: any key at all
        with pytest.raises(PydanticValidationError) as caught:
            model.model_validate({"reason": "x"})
        assert caught.value.errors()[0]["msg"] == "unknown field 'reason' (this request takes no fields)"
        assert model.model_validate({}) == model()
    for name, info in model.model_fields.items():
        alias = info.alias or name
        typo = alias + "s"
        with pytest.raises(PydanticValidationError) as caught:
            model.model_validate({**base, typo: None})
        assert caught.value.errors()[0]["msg"] == f"unknown field '{typo}' (did you mean '{alias}'?)"
        if alias != name:
            with pytest.raises(PydanticValidationError) as caught:
                model.model_validate({**base, name: None})
            assert caught.value.errors()[0]["msg"] == f"unknown field '{name}' (did you mean '{alias}'?)"


@pytest.mark.parametrize("command", ["execute", "run"])
def test_the_cli_plan_body_holds_only_fields_both_routes_take(command: str) -> None:
    args = build_parser().parse_args(
        [command, "demo", "--preset", "quick", "--phases", "unit,docs", "--skip", "lint", "--fail-fast"]
    )
    body = plan_body(args)
    assert set(body) == {"scenarioName", "preset", "phases", "skip", "failFast"}
    SuiteRequestBody.model_validate(body)
    SuiteExecutionBody.model_validate(body)
