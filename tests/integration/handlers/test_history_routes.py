"""The history routes of issue 12 through the HistoryFunction with API Gateway v2 events: shapes
(equal to the OpenAPI models) and every 400 naming its parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from testgenie.db import Connection, Database
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.models import ExecutionComparison, ScenarioPage, ScenarioStats
from testgenie.records import StoredExecution, SuiteExecutionRecord, SuiteExecutionSummary

from tests.support.handlers import Client
from tests.support.records import run_record

API = "/api/v1"
BASE = datetime(2026, 5, 1, tzinfo=UTC)


def _store(db: Database, records: list[SuiteExecutionRecord]) -> None:
    def work(conn: Connection) -> None:
        for record in records:
            SuiteExecutionRepository().create(conn, record)

    db.run(work)


@pytest.fixture
def runs(db: Database) -> list[SuiteExecutionRecord]:
    records = [
        run_record(
            "web",
            BASE + timedelta(minutes=i),
            {"lint": "passed", "unit": "failed" if i % 3 == 0 else "passed"},
            failing={"unit": ["tests/test_x.py::test_y"]} if i % 3 == 0 else None,
            digest=f"sha256:{i // 4}",
        )
        for i in range(8)
    ]
    _store(db, records)
    return records


def test_filters_cursor_and_total_over_http(history: Client, runs: list[SuiteExecutionRecord]) -> None:
    query = {
        "outcome": "failed,passed",
        "phase": "unit",
        "phaseStatus": "failed",
        "limit": "2",
        "includeTotal": "true",
    }
    status, body, _ = history.call("GET", f"{API}/executions", query=query)
    assert status == 200, body
    failed = [str(r.id) for r in reversed(runs) if r.outcome.value == "failed"]
    assert body["total"] == len(failed) == 3
    assert [item["executionId"] for item in body["items"]] == failed[:2]
    assert all(SuiteExecutionSummary.model_validate(item).to_json_dict() == item for item in body["items"])
    status, rest, _ = history.call("GET", f"{API}/executions", query={**query, "cursor": body["nextCursor"]})
    assert [item["executionId"] for item in rest["items"]] == failed[2:]
    assert rest["nextCursor"] is None


def test_get_carries_the_digest_and_failing_tests(history: Client, runs: list[SuiteExecutionRecord]) -> None:
    status, body, _ = history.call("GET", f"{API}/executions/{runs[0].id}")
    assert status == 200
    assert body == runs[0].to_stored_execution().to_json_dict()
    assert StoredExecution.model_validate(body).to_json_dict() == body
    assert body["sourceDigest"] == "sha256:0"
    assert body["phases"][1]["failingTests"] == [
        {"name": "tests/test_x.py::test_y", "signature": "AssertionError: tests/test_x.py::test_y"}
    ]


def test_scenarios_stats_and_compare_answer_their_documented_shapes(
    history: Client, runs: list[SuiteExecutionRecord]
) -> None:
    status, scenarios, _ = history.call("GET", f"{API}/scenarios")
    assert status == 200
    assert ScenarioPage.model_validate(scenarios).model_dump(mode="json", by_alias=True) == scenarios
    assert scenarios["items"][0]["lastExecution"]["executionId"] == str(runs[-1].id)
    assert scenarios["items"][0]["recentOutcomes"] == [r.outcome.value for r in runs]

    status, stats, _ = history.call("GET", f"{API}/scenarios/web/stats", query={"window": "6"})
    assert status == 200
    assert ScenarioStats.model_validate(stats).model_dump(mode="json", by_alias=True) == stats
    assert stats["runs"] == 6

    status, diff, _ = history.call("GET", f"{API}/executions/{runs[3].id}/compare")
    assert status == 200
    assert ExecutionComparison.model_validate(diff).model_dump(mode="json", by_alias=True) == diff
    assert diff["baseExecutionId"] == str(runs[2].id)
    status, same, _ = history.call(
        "GET", f"{API}/executions/{runs[3].id}/compare", query={"with": str(runs[2].id)}
    )
    assert (status, same) == (200, diff)


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/executions", {"outcome": "green"}, "outcome must be one or more of"),
        ("/executions", {"trigger": "cron"}, "trigger must be one of"),
        ("/executions", {"since": "yesterday"}, "since must be an ISO 8601 time"),
        ("/executions", {"until": "2026-13-01"}, "until must be an ISO 8601 time"),
        ("/executions", {"since": "2026-02-01", "until": "2026-01-01"}, "since must not be after until"),
        ("/executions", {"phaseStatus": "failed"}, "phaseStatus needs phase"),
        ("/executions", {"phase": "unit", "phaseStatus": "red"}, "phaseStatus must be one or more of"),
        ("/executions", {"cursor": "garbage"}, "cursor is invalid"),
        ("/executions", {"includeTotal": "maybe"}, "includeTotal"),
        ("/suite-requests", {"status": "done"}, "status"),
        ("/suite-requests", {"since": "soon"}, "since must be an ISO 8601 time"),
        ("/suite-requests", {"cursor": "garbage"}, "cursor is invalid"),
        ("/scenarios", {"cursor": "garbage"}, "cursor is invalid"),
        ("/scenarios/web/stats", {"window": "0"}, "window"),
        ("/scenarios/web/stats", {"window": "501"}, "window"),
        ("/scenarios/we%20b/stats", {}, "scenario name must contain only"),
        (f"/executions/{uuid4()}/compare", {"with": "yesterday"}, "with must be a valid UUID"),
        ("/executions/nope/compare", {}, "execution id must be a valid UUID"),
    ],
)
def test_bad_parameters_are_400s_naming_them(
    history: Client, path: str, query: dict[str, str], message: str
) -> None:
    status, body, _ = history.call("GET", f"{API}{path}", query=query)
    assert status == 400, body
    assert message in body["error"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/scenarios/nobody/stats", "no execution of 'nobody' recorded"),
        (f"/executions/{uuid4()}/compare", "execution not found"),
    ],
)
def test_unknown_things_are_404s(history: Client, path: str, message: str) -> None:
    status, body, _ = history.call("GET", f"{API}{path}")
    assert (status, body) == (404, {"error": message})


def test_suite_requests_filter_by_scenario_with_a_cursor(history: Client, execute: Client) -> None:
    for name in ("a", "b", "a", "a"):
        assert execute.call("POST", f"{API}/suite-requests", body={"scenarioName": name})[0] == 201
    status, first, _ = history.call("GET", f"{API}/suite-requests", query={"scenario": "a", "limit": "2"})
    assert status == 200
    assert [item["scenarioName"] for item in first["items"]] == ["a", "a"]
    status, rest, _ = history.call(
        "GET", f"{API}/suite-requests", query={"scenario": "a", "limit": "2", "cursor": first["nextCursor"]}
    )
    assert [item["scenarioName"] for item in rest["items"]] == ["a"]
    assert rest["nextCursor"] is None
