"""GET /api/v1/scenarios/available on ExecuteFunction: the scenarios its source holds, run or not,
from S3 bundles (moto) as on AWS and from a folder as on one machine, sent as API Gateway sends it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws
from testgenie.errors import ScenarioNotFoundError
from testgenie.orchestrator.sources.bundles import pack_folder
from testgenie.settings import Settings

from tests.support.context import FakeLambdaContext
from tests.support.engine import FakeEngine
from tests.support.events import http_event
from tests.support.handlers import Client, HandlerServices
from tests.support.paths import EXAMPLES

ROUTE = "/api/v1/scenarios/available"
BUCKET = "testgenie-artifacts"


@pytest.fixture
def handler(execute_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[HandlerServices]:
    """ExecuteFunction's services built by bootstrap with no database: listing must not need one."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    installed = HandlerServices([execute_app], Settings(), FakeEngine())
    yield installed
    installed.close()


@pytest.fixture
def execute(handler: HandlerServices, execute_app: ModuleType) -> Client:
    return Client(execute_app, FakeLambdaContext())


def test_the_event_takes_the_route_template_yaml_declares() -> None:
    event = http_event("GET", ROUTE)
    assert event["routeKey"] == f"GET {ROUTE}"
    assert "pathParameters" not in event  # not taken for /scenarios/{name}/stats


def test_lists_every_bundle_under_the_prefix_and_nothing_else(
    execute: Client, handler: HandlerServices
) -> None:
    bundle = pack_folder(EXAMPLES / "hello-python")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key in ("scenarios/zeta.tar.gz", "scenarios/alpha.tar.gz", "scenarios/never-ran.tar.gz"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=bundle)
        # Not bundles of this source: a deeper folder, another suffix, another prefix, phase logs.
        for key in ("scenarios/old/gamma.tar.gz", "scenarios/notes.txt", "other/delta.tar.gz"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=bundle)
        s3.put_object(Bucket=BUCKET, Key="executions/e1/unit.log", Body=b"log")
        handler.rebuild(scenarios_source=f"s3://{BUCKET}/scenarios")

        status, body, response = execute.call("GET", ROUTE)

    assert status == 200, body
    assert response["headers"]["Content-Type"] == "application/json"
    assert body == {
        "items": [{"scenarioName": n} for n in ("alpha", "never-ran", "zeta")],
        "count": 3,
    }


def test_lists_the_scenario_folders_of_a_folder_source(
    execute: Client, handler: HandlerServices, tmp_path: Path
) -> None:
    expected = sorted(p.name for p in EXAMPLES.iterdir() if (p / ".testgenie" / "testing.json").is_file())
    for name in expected:
        shutil.copytree(EXAMPLES / name, tmp_path / name)
    (tmp_path / "not-a-scenario").mkdir()  # no .testgenie/testing.json
    handler.rebuild(scenarios_source=str(tmp_path))

    status, body, _ = execute.call("GET", ROUTE)

    assert status == 200, body
    assert len(expected) >= 2
    assert [item["scenarioName"] for item in body["items"]] == expected
    assert body["count"] == len(expected)


def test_a_bucket_that_cannot_be_listed_is_503_and_names_no_bucket(
    execute: Client, handler: HandlerServices
) -> None:
    with mock_aws():  # the bucket does not exist: NoSuchBucket, as a missing grant would be AccessDenied
        handler.rebuild(scenarios_source=f"s3://{BUCKET}/scenarios")
        status, body, _ = execute.call("GET", ROUTE)

    assert (status, body) == (503, {"error": "service temporarily unavailable; retry later"})


def test_a_misspelt_scenario_still_gets_its_suggestion_from_the_listing(
    execute: Client, handler: HandlerServices
) -> None:
    """The listing now raises on failure; the "did you mean" after a miss still reads it."""
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="scenarios/hello-python.tar.gz", Body=b"x")
        services = handler.rebuild(scenarios_source=f"s3://{BUCKET}/scenarios")
        with pytest.raises(ScenarioNotFoundError, match="did you mean 'hello-python'"):
            services.scenarios.locate("helo-python")
