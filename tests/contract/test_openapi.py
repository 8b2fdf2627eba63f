"""openapi.json is generated from the handlers' routes (`make openapi`) and must not drift."""

from __future__ import annotations

import json
from typing import Any

from openapi_spec_validator import validate
from testgenie_local.openapi_gen import render

from tests.contract.test_template import EXPECTED_ROUTES
from tests.support.paths import REPO_ROOT

COMMITTED = REPO_ROOT / "openapi.json"


def test_committed_openapi_matches_the_routes() -> None:
    assert COMMITTED.read_text() == render(), "openapi.json is stale: run `make openapi` and commit it"


def test_openapi_is_a_valid_document_with_every_template_route() -> None:
    document: dict[str, Any] = json.loads(COMMITTED.read_text())
    validate(document)
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert operations == set().union(*EXPECTED_ROUTES.values())


def test_errors_are_documented_as_400_never_422() -> None:
    document: dict[str, Any] = json.loads(COMMITTED.read_text())
    for item in document["paths"].values():
        for operation in item.values():
            assert "422" not in operation["responses"]
    post = document["paths"]["/api/v1/suite-requests"]["post"]
    assert {"200", "201", "400", "503"} <= set(post["responses"])
    assert any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in post["parameters"])
    assert document["components"]["schemas"]["SuiteExecutionResult"]["properties"]["executionId"]
