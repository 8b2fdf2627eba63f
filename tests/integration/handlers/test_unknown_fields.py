"""Every body ExecuteFunction reads refuses a key it does not know, naming it and the closest field;
nothing is run, stored or published (HTTP bodies, SQS and dead-letter messages, scheduler input)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import ModuleType
from uuid import UUID

import pytest
from testgenie.db import Database
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus

from tests.support.context import FakeLambdaContext
from tests.support.engine import FakeEngine
from tests.support.events import sqs_batch, sqs_record
from tests.support.handlers import Client, Queues
from tests.support.records import run_record
from tests.support.services import suite_requests

API = "/api/v1"


def _count(db: Database, table: str) -> int:
    row = db.run(lambda conn: conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone())
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/suite-requests",
            {"scenarioName": "demo", "phasess": ["structure"]},
            "unknown field 'phasess' (did you mean 'phases'?)",
        ),
        (
            "/suite-requests",
            {"scenario_name": "demo"},
            "unknown field 'scenario_name' (did you mean 'scenarioName'?)",
        ),
        (
            "/suite-requests",
            {"scenarioName": "demo", "coverage": 80},
            "unknown field 'coverage' (did you mean 'coverageTarget'?)",
        ),
        (
            "/executions",
            {"scenarioName": "demo", "phases": ["structure"], "failfast": True},
            "unknown field 'failfast' (did you mean 'failFast'?)",
        ),
        (
            "/executions",
            {"scenarioName": "demo", "phases": ["unit"], "shard": 8},
            "unknown field 'shard' (did you mean 'shards'?)",
        ),
        (
            "/executions",
            {"scenarioName": "demo", "Preset": "quick"},
            "unknown field 'Preset' (did you mean 'preset'?)",
        ),
        (
            "/executions",
            {"scenarioName": "demo", "zzz": 1},
            "unknown field 'zzz' (known fields: failFast, phases, preset, scenarioName, shards, skip, suiteRequestId)",
        ),
    ],
)
def test_an_unknown_field_is_400_naming_it_and_nothing_runs_or_is_queued(
    execute: Client,
    env: Queues,
    db: Database,
    engine: FakeEngine,
    path: str,
    body: dict[str, object],
    message: str,
) -> None:
    status, answer, _ = execute.call("POST", f"{API}{path}", body=body)

    assert (status, answer) == (400, {"error": message})
    assert engine.executed == []
    assert (_count(db, "suite_requests"), _count(db, "suite_executions")) == (0, 0)
    assert env.drain() == []


def test_every_unknown_field_is_named_in_one_answer(execute: Client, env: Queues) -> None:
    body = {"scenarioName": "demo", "phasess": ["unit"], "failfast": True}
    status, answer, _ = execute.call("POST", f"{API}/suite-requests", body=body)
    assert status == 400
    assert answer["error"] == (
        "unknown field 'phasess' (did you mean 'phases'?); unknown field 'failfast' (did you mean 'failFast'?)"
    )


def test_every_documented_field_is_accepted(execute: Client, env: Queues, db: Database) -> None:
    body = {
        "scenarioName": "demo",
        "requestedTypes": ["unit"],
        "coverageTarget": 80,
        "priority": "high",
        "notes": "n",
        "preset": "quick",
        "phases": ["unit"],
        "skip": ["docs"],
        "failFast": True,
    }
    status, answer, _ = execute.call("POST", f"{API}/suite-requests", body=body)
    assert status == 201, answer
    assert (answer["phases"], answer["failFast"], answer["coverageTarget"]) == (["unit"], True, 80)


def test_rerun_refuses_an_unknown_field(execute: Client, env: Queues, db: Database) -> None:
    record = run_record("web", datetime(2026, 9, 1, tzinfo=UTC), {"unit": "failed", "docs": "passed"})
    db.run(lambda conn: SuiteExecutionRepository().create(conn, record))

    status, answer, _ = execute.call(
        "POST", f"{API}/executions/{record.id}/rerun", body={"failed_only": True}
    )

    assert (status, answer) == (400, {"error": "unknown field 'failed_only' (did you mean 'failedOnly'?)"})
    assert _count(db, "suite_requests") == 0
    assert env.drain() == []
    status, answer, _ = execute.call("POST", f"{API}/executions/{record.id}/rerun", body={"failedOnly": True})
    assert (status, answer["phases"]) == (201, ["unit"])


def _queue(db: Database) -> UUID:
    request, _ = suite_requests(db).queue(QueueSuiteRequestInput(scenario_name="demo"))
    return request.id


@pytest.mark.parametrize("dead_letter", [False, True])
def test_a_message_with_an_unknown_key_is_acknowledged_as_malformed_and_runs_nothing(
    env: Queues,
    execute_app: ModuleType,
    context: FakeLambdaContext,
    db: Database,
    engine: FakeEngine,
    caplog: pytest.LogCaptureFixture,
    dead_letter: bool,
) -> None:
    request_id = _queue(db)
    body = json.dumps({"suiteRequestId": str(request_id), "suiteRequestID": str(request_id)})
    arn = env.dlq_arn if dead_letter else env.arn
    event = sqs_batch(sqs_record(body, arn))
    assert execute_app.lambda_handler(event, context) == {"batchItemFailures": []}

    assert engine.executed == []
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.QUEUED
    logged = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert [getattr(r, "reason", None) for r in logged] == [
        "unknown field 'suiteRequestID' (did you mean 'suiteRequestId'?)"
    ]


def test_scheduler_input_with_an_unknown_key_reports_it_and_queues_nothing(
    env: Queues, execute_app: ModuleType, context: FakeLambdaContext, db: Database
) -> None:
    answer = execute_app.lambda_handler({"action": "enqueue", "scenarioNme": "demo"}, context)

    assert answer == {
        "action": "enqueue",
        "error": "invalid schedule input: unknown field 'scenarioNme' (did you mean 'scenarioName'?)",
    }
    assert _count(db, "suite_requests") == 0
    assert env.drain() == []


@pytest.mark.parametrize("field", ["reason", "force"])
def test_cancel_and_pin_take_no_fields_and_refuse_one(
    execute: Client, env: Queues, db: Database, field: str
) -> None:
    """They read no body; a field sent there would be dropped without a word, so it is refused."""
    request_id = _queue(db)
    record = run_record("web", datetime(2026, 9, 1, tzinfo=UTC), {"unit": "passed"})
    db.run(lambda conn: SuiteExecutionRepository().create(conn, record))
    refused = f"unknown field '{field}' (this request takes no fields)"
    for path in (f"/suite-requests/{request_id}/cancel", f"/executions/{record.id}/pin"):
        status, answer, _ = execute.call("POST", f"{API}{path}", body={field: "x"})
        assert (status, answer) == (400, {"error": refused}), path
    assert suite_requests(db).get(request_id).status is SuiteRequestStatus.QUEUED
    assert _pinned(db, record.id) is False
    # The same calls with `{}` (what the CLI and the dashboard send) and with no body.
    status, answer, _ = execute.call("POST", f"{API}/executions/{record.id}/pin", body={})
    assert (status, answer["pinned"]) == (200, True)
    status, answer, _ = execute.call("POST", f"{API}/suite-requests/{request_id}/cancel")
    assert (status, answer["status"]) == (200, "cancelled")


def _pinned(db: Database, execution_id: UUID) -> bool:
    row = db.run(
        lambda conn: conn.execute(
            "SELECT pinned FROM suite_executions WHERE id = %s", (execution_id,)
        ).fetchone()
    )
    assert row is not None
    return bool(row["pinned"])
