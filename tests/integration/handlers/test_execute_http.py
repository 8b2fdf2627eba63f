"""ExecuteFunction's POST routes on a real PostgreSQL and moto SQS: every code and message of DESIGN §5."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from testgenie.db import Database
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus

from tests.support.engine import FakeEngine
from tests.support.events import http_event
from tests.support.handlers import Client, HandlerServices, Queues
from tests.support.paths import EXAMPLES
from tests.support.services import suite_requests

API = "/api/v1"


def _queue(db: Database, scenario: str = "demo") -> UUID:
    request, _ = suite_requests(db).queue(QueueSuiteRequestInput(scenario_name=scenario))
    return request.id


def _executions(db: Database) -> int:
    return db.run(lambda conn: SuiteExecutionRepository().count(conn))


def test_execute_runs_now_and_records_the_result(execute: Client, db: Database) -> None:
    status, body, response = execute.call(
        "POST", f"{API}/executions", body={"scenarioName": " demo ", "preset": "quick", "phases": ["unit"]}
    )
    assert status == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert (body["scenarioName"], body["success"], body["outcome"], body["preset"]) == (
        "demo",
        True,
        "passed",
        "quick",
    )
    assert [p["name"] for p in body["phases"]] == ["unit"]
    assert body["phaseSummary"]["passed"] == 1
    assert _executions(db) == 1


def test_a_failed_run_is_still_200_with_success_false(
    execute: Client, engine: FakeEngine, db: Database
) -> None:
    engine.failing = {"unit"}
    status, body, _ = execute.call("POST", f"{API}/executions", body={"scenarioName": "demo"})
    assert (status, body["success"], body["outcome"]) == (200, False, "failed")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "invalid JSON payload"),
        ("", "invalid JSON payload"),
        ("[1, 2]", "request body must be a JSON object"),
        ("{}", "scenarioName is required"),
        ({"scenarioName": "   "}, "scenarioName is required"),
        ({"scenarioName": "demo", "suiteRequestId": "abc"}, "suiteRequestId must be a valid UUID"),
        ({"scenarioName": "demo", "phases": ["nope"]}, "phase 'nope' is not defined"),
        ({"scenarioName": "demo", "failFast": "sometimes"}, "failFast: Input should be a valid boolean"),
        ({"scenarioName": "demo", "phases": "unit"}, "phases: Input should be a valid list"),
        ({"scenarioName": "../../etc"}, "scenarioName: must contain only letters, digits, '-' and '_'"),
        ({"scenarioName": "demo\u0000"}, "scenarioName: must not contain NUL characters"),
    ],
)
def test_execute_validation_is_400_with_the_message(
    execute: Client, db: Database, body: str | dict[str, object], message: str
) -> None:
    status, answer, _ = execute.call("POST", f"{API}/executions", body=body)
    assert status == 400
    assert set(answer) == {"error"}
    assert answer["error"].startswith(message)
    assert _executions(db) == 0


def test_execute_linked_to_a_request_finishes_it_and_a_second_run_is_409(
    execute: Client, db: Database
) -> None:
    request_id = _queue(db, "Demo")
    status, body, _ = execute.call(
        "POST", f"{API}/executions", body={"scenarioName": "demo", "suiteRequestId": str(request_id)}
    )
    assert (status, body["suiteRequestId"]) == (200, str(request_id))
    stored = suite_requests(db).get(request_id)
    assert (stored.status, stored.execution_id) == (SuiteRequestStatus.COMPLETED, UUID(body["executionId"]))

    status, body, _ = execute.call(
        "POST", f"{API}/executions", body={"scenarioName": "demo", "suiteRequestId": str(request_id)}
    )
    assert (status, body) == (409, {"error": "suite request is completed and cannot be claimed"})


def test_execute_link_errors(execute: Client, db: Database) -> None:
    status, body, _ = execute.call(
        "POST", f"{API}/executions", body={"scenarioName": "demo", "suiteRequestId": str(uuid4())}
    )
    assert (status, body) == (404, {"error": "suite request not found"})

    request_id = _queue(db, "other")
    status, body, _ = execute.call(
        "POST", f"{API}/executions", body={"scenarioName": "demo", "suiteRequestId": str(request_id)}
    )
    assert (status, body) == (400, {"error": "suiteRequestId does not match scenarioName"})
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.QUEUED


def test_queue_suite_request_is_201_and_published(execute: Client, env: Queues) -> None:
    status, body, _ = execute.call(
        "POST", f"{API}/suite-requests", body={"scenarioName": "ecosystem-manager"}
    )
    assert status == 201
    assert (body["status"], body["priority"], body["coverageTarget"], body["requestedTypes"]) == (
        "queued",
        "normal",
        95,
        ["unit", "integration"],
    )
    assert body["estimatedQueueTimeSeconds"] == 2 * 30 + 95
    assert "delegationIssueId" not in body
    assert env.drain() == [{"suiteRequestId": body["id"]}]


def test_idempotency_key_returns_the_first_answer_again(execute: Client, env: Queues) -> None:
    headers = {"Idempotency-Key": "nightly-2025-03-10"}
    first = execute.call("POST", f"{API}/suite-requests", body={"scenarioName": "demo"}, headers=headers)
    again = execute.call("POST", f"{API}/suite-requests", body={"scenarioName": "demo"}, headers=headers)
    other = execute.call("POST", f"{API}/suite-requests", body={"scenarioName": "demo"})

    assert (first[0], again[0], other[0]) == (201, 200, 201)
    assert again[1]["id"] == first[1]["id"] != other[1]["id"]
    assert sorted(m["suiteRequestId"] for m in env.drain()) == sorted([first[1]["id"], other[1]["id"]])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "scenarioName is required"),
        ({"scenarioName": "demo", "priority": "whenever"}, "priority 'whenever' is not supported"),
        ({"scenarioName": "demo", "coverageTarget": 500}, "coverageTarget must be between 1 and 100"),
        ({"scenarioName": "demo", "requestedTypes": ["smoke"]}, "requested type 'smoke' is not supported"),
        (
            {"scenarioName": "demo", "coverageTarget": "most"},
            "coverageTarget: Input should be a valid integer",
        ),
        ("nope", "invalid JSON payload"),
    ],
)
def test_queue_validation_is_400(execute: Client, env: Queues, body: object, message: str) -> None:
    status, answer, _ = execute.call("POST", f"{API}/suite-requests", body=body)
    assert status == 400
    assert answer["error"].startswith(message)
    assert env.drain() == []


def test_cancel_codes(execute: Client, db: Database) -> None:
    request_id = _queue(db)
    status, body, _ = execute.call("POST", f"{API}/suite-requests/{request_id}/cancel")
    assert (status, body["status"]) == (200, "cancelled")
    assert execute.call("POST", f"{API}/suite-requests/{request_id}/cancel")[:2] == (
        409,
        {"error": "suite request is already cancelled and cannot be cancelled"},
    )
    assert execute.call("POST", f"{API}/suite-requests/{uuid4()}/cancel")[:2] == (
        404,
        {"error": "suite request not found"},
    )
    assert execute.call("POST", f"{API}/suite-requests/12/cancel")[:2] == (
        400,
        {"error": "suite request id must be a valid UUID"},
    )


def test_database_down_is_503(execute: Client, handler_services: HandlerServices) -> None:
    handler_services.rebuild(database_url="postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    status, body, _ = execute.call("POST", f"{API}/suite-requests", body={"scenarioName": "demo"})
    assert (status, body) == (503, {"error": "service temporarily unavailable; retry later"})


def test_unsupported_content_type_and_unknown_route(execute: Client) -> None:
    status, body, _ = execute.call(
        "POST", f"{API}/suite-requests", body="scenarioName=demo", headers={"Content-Type": "text/plain"}
    )
    assert (status, body) == (415, {"error": "request body must be application/json"})
    assert execute.call("POST", f"{API}/phases")[:2] == (404, {"error": "route not found"})


def test_bodies_no_decoder_can_read_are_4xx_not_500(execute: Client) -> None:
    multipart = execute.call(
        "POST", f"{API}/suite-requests", body="x", headers={"Content-Type": "multipart/form-data"}
    )
    assert multipart[:2] == (415, {"error": "request body must be application/json"})
    event = http_event("POST", f"{API}/suite-requests", body=base64.b64encode(b"\xff\xfe{").decode())
    event["isBase64Encoded"] = True
    assert execute.send(event)[:2] == (400, {"error": "request body must be UTF-8 encoded JSON"})


def test_an_unexpected_fault_is_a_logged_500_without_internals(execute: Client, engine: FakeEngine) -> None:
    engine.plan_error = RuntimeError("secret internals")
    status, body, _ = execute.call("POST", f"{API}/executions", body={"scenarioName": "demo"})
    assert (status, body) == (500, {"error": "internal server error"})


def test_no_free_connection_is_503_database_busy_and_nothing_is_queued(
    execute: Client,
    env: Queues,
    connection_limited_url: Callable[[int], str],
    handler_services: HandlerServices,
) -> None:
    url = connection_limited_url(1)
    holder = Database(url)
    assert holder.ping()  # someone else holds the only slot
    handler_services.rebuild(database_url=url)

    status, body, response = execute.call("POST", f"{API}/suite-requests", body={"scenarioName": "demo"})
    assert (status, body) == (503, {"error": "database busy, retry"})
    assert response["headers"]["Retry-After"] == "1"
    assert env.drain() == []
    holder.close()
    status, body, _ = execute.call("POST", f"{API}/suite-requests", body={"scenarioName": "demo"})
    assert status == 201, body
    assert [m["suiteRequestId"] for m in env.drain()] == [body["id"]]


@pytest.fixture
def real_plans(env: Queues, tmp_path: Path, handler_services: HandlerServices) -> None:
    """The execute function's plans come from the real orchestrator over the example scenarios."""
    from testgenie.orchestrator.run.engine import in_process_orchestrator
    from testgenie.settings import Settings

    settings = Settings(
        scenarios_source=str(EXAMPLES), artifacts_dir=tmp_path / "a", phase_timeout_seconds=60
    )
    handler_services.engine = in_process_orchestrator(settings)
    handler_services.rebuild()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"preset": "bogus"}, "preset 'bogus' is not defined (known: "),
        ({"phases": ["nope"]}, "phase 'nope' is not defined (known: "),
        ({"scenarioName": "ghost"}, "scenario 'ghost' was not found"),
    ],
)
def test_queueing_a_plan_that_can_never_run_is_400(
    execute: Client, env: Queues, db: Database, real_plans: None, fields: dict[str, object], message: str
) -> None:
    """Validated at queue time exactly as POST /executions does; nothing is stored or published."""
    before = _requests(db)
    body = {"scenarioName": "hello-python", **fields}
    for path in ("/suite-requests", "/executions"):
        status, answer, _ = execute.call("POST", f"{API}{path}", body=body)
        assert (status, answer["error"][: len(message)]) == (400, message), path
        assert "/" not in answer["error"], "the message names a server folder"
    assert env.drain() == []
    assert _requests(db) == before


def _requests(db: Database) -> int:
    row = db.run(lambda conn: conn.execute("SELECT count(*) AS n FROM suite_requests").fetchone())
    assert row is not None
    return int(row["n"])


def test_oversized_lists_deep_nesting_and_huge_bodies_are_4xx(
    execute: Client, env: Queues, db: Database
) -> None:
    for path in ("/suite-requests", "/executions"):
        status, answer, _ = execute.call(
            "POST", f"{API}{path}", body={"scenarioName": "demo", "phases": ["unit"] * 20_000}
        )
        assert status == 400, path
        assert answer["error"].startswith("phases: List should have at most 50 items"), answer
        nested = '{"scenarioName": "demo", "notes": ' + "{" * 5000 + "}" * 5000 + "}"
        status, answer, _ = execute.call("POST", f"{API}{path}", body=nested)
        assert (status, answer["error"]) == (400, "request body is nested deeper than 32 levels")
        huge = '{"scenarioName": "demo", "notes": "' + "x" * (1024 * 1024) + '"}'
        status, answer, _ = execute.call("POST", f"{API}{path}", body=huge)
        assert (status, answer["error"]) == (413, "request body is larger than 1048576 bytes")
    assert _executions(db) == 0
    assert env.drain() == []


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        (17, "shards must be between 1 and 16 (MaxShards), not 17"),
        (0, "shards must be between 1 and 16 (MaxShards), not 0"),
        (-3, "shards must be between 1 and 16 (MaxShards), not -3"),
        (True, 'shards: must be a whole number of shards (1 … MaxShards) or "auto"'),
        (2.5, 'shards: must be a whole number of shards (1 … MaxShards) or "auto"'),
        ("many", 'shards: must be a whole number of shards (1 … MaxShards) or "auto"'),
    ],
)
def test_shards_outside_one_to_max_shards_are_400_naming_the_limit(
    execute: Client, env: Queues, db: Database, real_plans: None, shards: object, message: str
) -> None:
    before = _requests(db)
    for path in ("/suite-requests", "/executions"):
        status, answer, _ = execute.call(
            "POST", f"{API}{path}", body={"scenarioName": "hello-python", "shards": shards}
        )
        assert (status, answer) == (400, {"error": message}), path
    assert env.drain() == []
    assert _requests(db) == before
    assert _executions(db) == 0


@pytest.mark.parametrize("shards", [4, "auto", "3"])
def test_a_queued_request_keeps_its_shards_for_the_run(
    execute: Client, env: Queues, db: Database, real_plans: None, shards: object
) -> None:
    status, body, _ = execute.call(
        "POST", f"{API}/suite-requests", body={"scenarioName": "hello-python", "shards": shards}
    )
    assert status == 201
    expected = 3 if shards == "3" else shards
    assert body["shards"] == expected
    stored = suite_requests(db).get(UUID(body["id"]))
    assert stored.execution_request().shards == expected
    assert len(env.drain()) == 1
