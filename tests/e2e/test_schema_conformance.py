"""schemathesis against openapi.json on the running stack: no 5xx, no answer outside the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.support.paths import REPO_ROOT
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e

SCHEMA_PATH: Path = REPO_ROOT / "openapi.json"
schema = schemathesis.openapi.from_path(SCHEMA_PATH)


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
def test_api_answers_within_its_schema(case: schemathesis.Case, stack: RunningStack) -> None:
    case.call_and_validate(
        base_url=stack.url,
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
        timeout=60,
    )
