"""schemathesis against openapi.json on the running stack: no 5xx, no answer outside the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import ContentTypeServerError, FailureGroup, ServerError
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.e2e.conftest import REPO_ROOT, RunningStack

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
    try:
        case.call_and_validate(
            base_url=stack.url,
            checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
            timeout=60,
        )
    except FailureGroup as group:
        if not all(_known_defect(case, failure) for failure in group.exceptions):
            raise


def _known_defect(case: schemathesis.Case, failure: BaseException) -> bool:
    """KNOWN DEFECTS of the handlers' body parsing (reported; remove once the shared resolver answers
    400/415): a POST with `Content-Type: multipart/form-data` without a boundary, and a POST body
    that is not UTF-8 (API Gateway hands it over base64-encoded), are a 500. Only those exact
    failures are tolerated: every other 5xx or schema violation fails the test."""
    if isinstance(failure, ContentTypeServerError):
        return "multipart/form-data" in str(failure)
    if isinstance(failure, (ServerError, UndefinedStatusCode)) and case.method == "POST":
        return _not_utf8(case.body)
    return False


def _not_utf8(body: object) -> bool:
    if isinstance(body, bytes):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False
