"""50 concurrent deliveries of one SQS message -> exactly one execution (DESIGN §3: the claim is atomic).

Each delivery is its own "Lambda environment": its own Database connection, services and real
orchestrator, driven through the execute handler's batch processing. A barrier releases them together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testgenie.db import Database
from testgenie.entrypoints.sqs import QueueRecordHandler, process_batch
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.service import SuiteExecutionService
from testgenie.orchestrator.run.engine import in_process_orchestrator
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.settings import Settings

from tests.support.drills import make_scenario, query
from tests.support.events import suite_request_message
from tests.support.services import suite_requests

DELIVERIES = 50


class Environment:
    """What one Lambda execution environment holds: a connection and the services built on it."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.db = Database(database_url)
        self.requests = suite_requests(self.db, lease_seconds=120)
        self.executions = SuiteExecutionService(
            in_process_orchestrator(settings), self.db, self.requests, SuiteExecutionRepository()
        )

    def deliver(self, event: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        outcomes: list[str] = []
        handler = QueueRecordHandler(lambda: self.executions, None, 60_000)

        def record_handler(record: Any) -> str:
            outcome = handler(record)
            outcomes.append(outcome)
            return outcome

        return outcomes, process_batch(event, None, record_handler)


@pytest.mark.timeout(120)
def test_fifty_concurrent_deliveries_run_one_execution(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    url = new_database()
    runs = tmp_path / "runs.log"
    scenarios = tmp_path / "scenarios"
    # The command appends to a file outside the workspace: it counts how often the suite really ran.
    append = f"open({str(runs)!r}, 'a').write('ran\\n')"
    make_scenario(
        scenarios,
        "rel-count",
        {"structure": {"requiredPaths": ["README.md"]}, "lint": {"commands": [["python", "-c", append]]}},
    )
    settings = Settings(
        database_url=url, scenarios_source=str(scenarios), artifacts_dir=tmp_path / "artifacts"
    )
    queued, _ = suite_requests(Database(url)).queue(
        QueueSuiteRequestInput.model_validate({"scenarioName": "rel-count"})
    )
    event = suite_request_message(str(queued.id))

    environments = [Environment(url, settings) for _ in range(DELIVERIES)]
    for env in environments:  # connect first, so the barrier releases claims, not connection set-ups
        env.db.ping()
    barrier = threading.Barrier(DELIVERIES, timeout=60)
    results: list[tuple[list[str], dict[str, Any]] | BaseException] = [RuntimeError("not run")] * DELIVERIES

    def deliver(index: int) -> None:
        try:
            barrier.wait()
            results[index] = environments[index].deliver(event)
        except BaseException as exc:  # reported below
            results[index] = exc

    threads = [threading.Thread(target=deliver, args=(i,), daemon=True) for i in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    try:
        assert not any(t.is_alive() for t in threads), "a delivery did not finish"
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors[:3]
        outcomes = [o for r in results if not isinstance(r, BaseException) for o in r[0]]
        responses = [r[1] for r in results if not isinstance(r, BaseException)]
    finally:
        for env in environments:
            env.db.close()

    # Every delivery was acknowledged: one ran the suite, the 49 others saw a duplicate.
    assert all(response == {"batchItemFailures": []} for response in responses), responses
    assert sorted(outcomes) == ["duplicate"] * (DELIVERIES - 1) + ["passed"]
    # One claim (attempts is the fencing token), one execution row, one real run of the suite.
    request = query(url, "SELECT status, attempts FROM suite_requests WHERE id = %s", (queued.id,))
    assert request == [{"status": "completed", "attempts": 1}]
    executions = query(
        url, "SELECT outcome, success FROM suite_executions WHERE suite_request_id = %s", (queued.id,)
    )
    assert executions == [{"outcome": "passed", "success": True}]
    assert query(url, "SELECT count(*) AS n FROM suite_executions") == [{"n": 1}]
    assert runs.read_text().splitlines() == ["ran"]
