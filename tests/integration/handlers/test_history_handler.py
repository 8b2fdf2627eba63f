"""HistoryFunction with API Gateway v2 events on a real PostgreSQL: every GET code and message of DESIGN §5."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from testgenie import bootstrap
from testgenie.artifacts import LocalArtifactStore
from testgenie.db import Database
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.orchestrator.models import PhaseStatus
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.records import SuiteExecutionRecord
from testgenie_local.runtime import load_handler
from testgenie_local.template import read_template

from tests.support.context import FakeLambdaContext
from tests.support.handlers import Client, HandlerServices, Queues
from tests.support.paths import REPO_ROOT, TEMPLATE
from tests.support.records import make_record
from tests.support.services import suite_requests
from tests.support.threads import barrier, join_all, start_all

DEAD_DATABASE = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"

API = "/api/v1"


def _store(db: Database, *records: SuiteExecutionRecord) -> None:
    repo = SuiteExecutionRepository()
    for record in records:
        db.run(partial(repo.create, record=record))


def test_list_executions_is_empty_at_first(history: Client) -> None:
    empty = {"items": [], "count": 0, "nextCursor": None}
    assert history.call("GET", f"{API}/executions")[:2] == (200, empty)


def test_list_executions_newest_first_with_filter_limit_and_offset(history: Client, db: Database) -> None:
    now = datetime.now(UTC)
    records = [make_record("demo" if i % 2 else "other", now - timedelta(minutes=i)) for i in range(6)]
    _store(db, *records)

    status, body, _ = history.call("GET", f"{API}/executions")
    assert status == 200
    assert body["count"] == 6
    assert [i["executionId"] for i in body["items"]] == [str(r.id) for r in records]
    assert "phases" not in body["items"][0]
    assert body["items"][0]["phaseSummary"]["total"] == 1

    status, body, _ = history.call(
        "GET", f"{API}/executions", query={"scenario": " demo ", "limit": "2", "offset": "1"}
    )
    assert status == 200
    assert [i["executionId"] for i in body["items"]] == [str(records[3].id), str(records[5].id)]
    assert body["count"] == 2


@pytest.mark.parametrize("limit", ["51", "100", "1000000000"])
def test_a_limit_above_50_is_clamped_as_the_seed_does(history: Client, db: Database, limit: str) -> None:
    """The seed's clients send limit=100 (its docs say the default is 100): a page of at most 50."""
    _store(db, *[make_record() for _ in range(52)])
    status, body, _ = history.call("GET", f"{API}/executions", query={"limit": limit})
    assert (status, body["count"], len(body["items"])) == (200, 50, 50)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "1.5"}, "offset"),
        ({"scenario": "../etc"}, "scenario"),
    ],
)
def test_bad_list_queries_are_400_naming_the_field(
    history: Client, query: dict[str, str], field: str
) -> None:
    status, body, _ = history.call("GET", f"{API}/executions", query=query)
    assert status == 400
    assert set(body) == {"error"}
    assert body["error"].startswith(field)


def test_latest_is_404_until_something_ran(history: Client, db: Database) -> None:
    status, body, _ = history.call("GET", f"{API}/executions/latest")
    assert (status, body) == (404, {"error": "no execution recorded yet"})

    old, new = make_record("demo", datetime.now(UTC) - timedelta(hours=1)), make_record("other")
    _store(db, old, new)
    assert history.call("GET", f"{API}/executions/latest")[1]["executionId"] == str(new.id)
    status, body, _ = history.call("GET", f"{API}/executions/latest", query={"scenario": "demo"})
    assert (status, body["executionId"]) == (200, str(old.id))
    assert history.call("GET", f"{API}/executions/latest", query={"scenario": "nope"})[:2] == (
        404,
        {"error": "no execution of 'nope' yet"},
    )


def test_get_execution_codes(history: Client, db: Database) -> None:
    record = make_record("demo")
    _store(db, record)

    status, body, response = history.call("GET", f"{API}/executions/{record.id}")
    assert status == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert body["executionId"] == str(record.id)
    assert body["phases"][0]["name"] == "phase0"
    assert set(body) >= {"scenarioName", "startedAt", "completedAt", "success", "outcome", "phaseSummary"}

    assert history.call("GET", f"{API}/executions/not-a-uuid")[:2] == (
        400,
        {"error": "execution id must be a valid UUID"},
    )
    assert history.call("GET", f"{API}/executions/{uuid4()}")[:2] == (404, {"error": "execution not found"})


def test_phase_log_is_a_tail_capped_text(
    history: Client, tmp_path: Path, handler_services: HandlerServices
) -> None:
    handler_services.rebuild(log_tail_bytes=1024)
    execution_id = uuid4()
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.put_log(execution_id, "unit", b"HEAD\n" + b"x" * 4000 + b"\nlast line\n")

    status, text, response = history.call("GET", f"{API}/executions/{execution_id}/phases/unit/log")
    assert status == 200
    assert response["headers"]["Content-Type"].startswith("text/plain")
    assert len(text.encode()) == 1024
    assert text.endswith("last line\n")
    assert "HEAD" not in text

    assert history.call("GET", f"{API}/executions/{execution_id}/phases/lint/log")[:2] == (
        404,
        {"error": f"execution {execution_id} not found"},
    )
    assert history.call("GET", f"{API}/executions/{execution_id}/phases/..%2F..%2Fetc/log")[0] == 404
    assert history.call("GET", f"{API}/executions/nope/phases/unit/log")[:2] == (
        400,
        {"error": "execution id must be a valid UUID"},
    )


def test_a_missing_log_says_which_part_was_not_found(history: Client, db: Database, tmp_path: Path) -> None:
    record = make_record(statuses=(PhaseStatus.PASSED, PhaseStatus.SKIPPED))
    record = record.model_copy(
        update={
            "phases": [
                p.model_copy(update={"name": n}) for p, n in zip(record.phases, ["unit", "lint"], strict=True)
            ]
        }
    )
    _store(db, record)
    LocalArtifactStore(tmp_path / "artifacts").put_log(record.id, "unit", b"ok\n")
    base = f"{API}/executions/{record.id}/phases"

    assert history.call("GET", f"{base}/unit/log")[:2] == (200, "ok\n")
    cases = {
        "unti": f"phase 'unti' is unknown; did you mean 'unit'? (execution {record.id} ran: unit, lint)",
        "docs": f"phase 'docs' did not run in execution {record.id} (it ran: unit, lint)",
        "lint": f"phase 'lint' of execution {record.id} has no log (skipped)",
    }
    for phase, message in cases.items():
        assert history.call("GET", f"{base}/{phase}/log")[:2] == (404, {"error": message}), phase
    unknown = uuid4()
    assert history.call("GET", f"{API}/executions/{unknown}/phases/unit/log")[:2] == (
        404,
        {"error": f"execution {unknown} not found"},
    )


def test_suite_requests_list_get_and_codes(history: Client, db: Database) -> None:
    service = suite_requests(db)
    first, _ = service.queue(QueueSuiteRequestInput(scenario_name="demo"))
    second, _ = service.queue(QueueSuiteRequestInput(scenario_name="other", priority="high"))
    service.cancel(first.id)

    status, body, _ = history.call("GET", f"{API}/suite-requests")
    assert status == 200
    assert [i["id"] for i in body["items"]] == [str(second.id), str(first.id)]
    assert body["items"][0]["estimatedQueueTimeSeconds"] == 2 * 30 + 95

    status, body, _ = history.call(
        "GET", f"{API}/suite-requests", query={"status": "cancelled", "limit": "5"}
    )
    assert (status, [i["id"] for i in body["items"]]) == (200, [str(first.id)])

    status, body, _ = history.call("GET", f"{API}/suite-requests", query={"status": "lost"})
    assert status == 400
    assert body["error"].startswith("status")
    status, body, _ = history.call("GET", f"{API}/suite-requests", query={"limit": "99"})
    assert (status, len(body["items"])) == (200, 2)  # clamped to 50, as the seed does

    status, body, _ = history.call("GET", f"{API}/suite-requests/{second.id}")
    assert (status, body["scenarioName"], body["priority"]) == (200, "other", "high")
    assert history.call("GET", f"{API}/suite-requests/xyz")[:2] == (
        400,
        {"error": "suite request id must be a valid UUID"},
    )
    assert history.call("GET", f"{API}/suite-requests/{uuid4()}")[:2] == (
        404,
        {"error": "suite request not found"},
    )


def test_phases_are_the_catalog_in_run_order(history: Client) -> None:
    status, body, _ = history.call("GET", f"{API}/phases")
    assert status == 200
    names = [p["name"] for p in body["items"]]
    assert names[:3] == ["structure", "standards", "dependencies"]
    assert body["count"] == len(names) == 11
    assert {"name", "optional", "description", "defaultTimeoutSeconds"} <= set(body["items"][0])


def test_health_is_200_with_a_database_and_503_without(
    history: Client, handler_services: HandlerServices, db: Database
) -> None:
    queued, _ = suite_requests(db).queue(QueueSuiteRequestInput(scenario_name="demo"))
    status, body, _ = history.call("GET", f"{API}/health")
    assert status == 200
    assert body["status"] == "healthy"
    assert body["dependencies"] == {"database": "connected"}
    assert body["queue"]["total"] == body["queue"]["queued"] == body["queue"]["pending"] == 1
    assert body["queue"]["oldestQueuedAt"] == queued.to_json_dict()["createdAt"]
    handler_services.rebuild(database_url=DEAD_DATABASE)
    assert history.call("GET", f"{API}/health")[:2] == (
        503,
        {"status": "unhealthy", "dependencies": {"database": "disconnected"}},
    )


def test_database_down_is_503_not_500(history: Client, handler_services: HandlerServices) -> None:
    handler_services.rebuild(database_url=DEAD_DATABASE)
    status, body, _ = history.call("GET", f"{API}/executions")
    assert status == 503
    assert body == {"error": "service temporarily unavailable; retry later"}


def test_unknown_routes_and_methods_are_404(history: Client) -> None:
    assert history.call("GET", f"{API}/nothing-here")[:2] == (404, {"error": "route not found"})
    assert history.call("DELETE", f"{API}/executions")[0] == 404


def test_history_never_imports_the_engine_boto3_or_batch_utilities() -> None:
    code = "import json, sys; import history_app; print(json.dumps(sorted(m for m in sys.modules)))"
    paths = [str(REPO_ROOT / p) for p in ("layers/core", "functions/history")]
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"},
        cwd=REPO_ROOT,
    ).stdout
    modules = set(json.loads(out))
    forbidden = [
        m
        for m in modules
        if m.split(".")[0] in {"boto3", "aws_xray_sdk", "s3transfer"}
        or m.startswith(("botocore.", "testgenie.orchestrator.run.engine", "testgenie.orchestrator.phases"))
        or m.startswith(("testgenie.orchestrator.planning.plan", "testgenie.orchestrator.run.workspace"))
        or m.startswith(("testgenie.execution.service", "aws_lambda_powertools.utilities.batch"))
    ]
    assert forbidden == []
    assert "history_app" in modules


def test_a_burst_beyond_the_free_connections_is_told_database_busy_retry(
    env: Queues, connection_limited_url: Callable[[int], str], handler_services: HandlerServices
) -> None:
    """12 environments at once against 3 free connections: 3 answer, 9 get the busy 503 (never a 500),
    and once the burst is over a retry is served (docs/deploying.md, connection budget)."""
    settings = handler_services.settings.model_copy(update={"database_url": connection_limited_url(3)})
    spec = read_template(TEMPLATE).functions["HistoryFunction"]
    loaded = itertools.count(1)

    def new_environment() -> tuple[Client, bootstrap.Services]:
        """A private copy of the handler module, as the local stack loads one per environment."""
        handler = load_handler(spec, next(loaded))
        module = sys.modules[handler.__module__]
        services = bootstrap.build(settings)
        module.environment.use(services)
        return Client(module, FakeLambdaContext()), services

    burst = 12
    start, done = barrier(burst), barrier(burst)
    answers: list[tuple[int, Any, dict[str, Any]]] = []
    lock = threading.Lock()

    def environment() -> None:  # one thread = one execution environment with its own connection
        client, services = new_environment()
        start.wait(timeout=120)
        answer = client.call("GET", f"{API}/executions")
        with lock:
            answers.append(answer)
        done.wait(timeout=120)  # every environment keeps its connection until the whole burst is answered
        services.close()

    join_all(start_all(threading.Thread(target=environment) for _ in range(burst)))

    served = [a for a in answers if a[0] == 200]
    busy = [a for a in answers if a[0] == 503]
    assert (len(served), len(busy)) == (3, 9), [a[:2] for a in answers]
    for _, body, response in busy:
        assert body == {"error": "database busy, retry"}
        assert response["headers"]["Retry-After"] == "1"
    client, services = new_environment()
    assert client.call("GET", f"{API}/executions")[0] == 200  # the retry
    services.close()
