"""schemathesis against openapi.json on the running stack: no 5xx, no answer outside the schema,
every schema-violating request refused, and a refused body's message naming what was wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.paths import REPO_ROOT
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e

SCHEMA_PATH: Path = REPO_ROOT / "openapi.json"
DOCUMENT: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
MAX_ITEMS = 50  # every list of a body (docs/api.md)
MAX_DEPTH = 32
schema = schemathesis.openapi.from_path(SCHEMA_PATH)
# Positive and negative cases (negative: unknown fields, lists beyond maxItems, wrong types); every
# negative one must be refused. The local stack signs nothing (SigV4 is API Gateway's), so the
# Authorization header is left out of the mutations.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], with_security_parameters=False
)


def documented_fields(method: str, path: str) -> set[str] | None:
    """The properties openapi.json lists for a route's body (None: the route takes no body)."""
    operation = DOCUMENT["paths"].get(path, {}).get(method.lower(), {})
    if "requestBody" not in operation:
        return None
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    ref = next(s["$ref"] for s in [body_schema, *body_schema.get("anyOf", [])] if "$ref" in s)
    return set(DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])


def expected_refusal(method: str, path: str, body: object) -> tuple[int, str] | None:
    """The documented answer to a body that is wrong in one of the ways below, else None."""
    fields = documented_fields(method, path)
    if fields is None or not isinstance(body, dict):
        return None
    text = json.dumps(body)
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(body) > MAX_DEPTH:
        return 400, f"request body is nested deeper than {MAX_DEPTH} levels"
    unknown = [key for key in body if key not in fields]
    if unknown:
        return 400, f"unknown field '{unknown[0]}' ("
    return None


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@schemathesis.check
def refusal_names_the_problem(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> bool | None:
    """An unknown field or a body nested too deep is a 400 with the documented message."""
    expected = expected_refusal(case.method, case.operation.path, case.body)
    if expected is None:
        return None
    status, message = expected
    error = response.json().get("error", "") if response.status_code >= 400 else ""
    got = f"expected {status} `{message}…`, got {response.status_code} {response.text[:300]}"
    assert response.status_code == status, got
    assert error.startswith(message), got
    return True


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
    refusal_names_the_problem,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_answers_within_its_schema(case: schemathesis.Case[Any], stack: RunningStack) -> None:
    case.call_and_validate(base_url=stack.url, checks=CHECKS, timeout=60)


def _nested(depth: int) -> object:
    value: object = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


BODY_ROUTES = [("POST", path) for path in DOCUMENT["paths"] if documented_fields("POST", path) is not None]
VALID = {"scenarioName": "e2e-pass"}


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_bodies_beyond_the_limits_get_the_documented_refusal(
    method: str, path: str, stack: RunningStack
) -> None:
    """Explicit cases schemathesis does not draw: deep nesting, lists beyond the cap, unknown fields."""
    operation = schema[path][method]
    fields = documented_fields(method, path) or set()
    nobody = "00000000-0000-4000-8000-000000000000"
    params = {name: nobody for name in ("executionId", "requestId") if f"{{{name}}}" in path} or None
    base = {k: v for k, v in VALID.items() if k in fields}
    lists = sorted(f for f in fields if f in {"phases", "skip", "requestedTypes"})
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {**base, "notes" if "notes" in fields else "zz": _nested(MAX_DEPTH + 1)},
            400,
            "request body is nested",
        ),
        ({**base, "phasess": ["unit"]}, 400, "unknown field 'phasess' ("),
        ({**base, "failfast": True}, 400, "unknown field 'failfast' ("),
        *(
            (
                {**base, name: ["unit"] * (MAX_ITEMS + 1)},
                400,
                f"{name}: List should have at most {MAX_ITEMS} items",
            )
            for name in lists
        ),
    ]
    for body, status, message in cases:
        case = operation.Case(body=body, path_parameters=params, media_type="application/json")
        response = case.call(base_url=stack.url, timeout=60)
        assert response.status_code == status, (path, body, response.text[:300])
        assert response.json()["error"].startswith(message), (path, response.text[:300])
        case.validate_response(response, checks=[response_schema_conformance, status_code_conformance])
