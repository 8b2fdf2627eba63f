"""A sharded phase in the durable coordinator, under the SDK's own runner and a real PostgreSQL: a
map of chained invokes (one per shard, each with the scenario's tenant), a crashed shard invoked once
more, replays that repeat no invoke, the collection cached, failFast abandoning the other shards."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from testgenie.coordinator.flow import CoordinatorDeps
from testgenie.coordinator.shards import ShardSettings
from testgenie.db import Database
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.queue.service import SuiteRequestService
from testgenie.shards.store import DatabaseShardStore
from testgenie_local.uploads import SignedUploadStore

from tests.integration.coordinator.test_durable_flow import (
    RUNNER,
    SCENARIOS,
    StandInRunner,
    _answer,
    _executions,
    _run,
)
from tests.support.services import suite_requests

IDS = [f"tests/test_recipes.py::T::test_{i}" for i in range(9)]


@pytest.fixture
def requests(db: Database) -> SuiteRequestService:
    return suite_requests(db)


@pytest.fixture
def deps(db: Database, requests: SuiteRequestService, tmp_path: Path) -> CoordinatorDeps:
    return CoordinatorDeps(
        requests=requests,
        db=db,
        bundles=LocalScenarioSource(SCENARIOS, packed_dir=tmp_path / "packed"),
        artifacts=SignedUploadStore(tmp_path / "artifacts", "http://127.0.0.1:9/_artifacts", "s" * 64),
        runner_function=RUNNER,
        default_phase_timeout=60,
        execution_timeout_seconds=3600,
    )


def _sharding(deps: CoordinatorDeps, db: Database) -> CoordinatorDeps:
    return replace(deps, shards=ShardSettings(DatabaseShardStore(db), max_shards=16, target_seconds=60))


def _queue(requests: SuiteRequestService, shards: int, fail_fast: bool = False) -> UUID:
    request, _ = requests.queue(
        QueueSuiteRequestInput(
            scenario_name="more-itertools", phases=["unit"], shards=shards, fail_fast=fail_fast
        )
    )
    return request.id


class ShardRunner(StandInRunner):
    """Answers the collect-only invocation with IDS, and each shard with its tests (passed, timed)."""

    def __init__(self, misbehave: dict[int, Any] | None = None) -> None:
        super().__init__(self._answer_shard)
        self.collects = 0
        self.shard_calls: list[int] = []
        self.misbehave = misbehave or {}

    def _answer_shard(self, event: dict[str, Any]) -> Any:
        if event.get("collectOnly"):
            self.collects += 1
            return _answer(event, collection={"mode": "tests", "testIds": IDS})
        shard = event["shard"]
        self.shard_calls.append(shard["index"])
        special = self.misbehave.get(shard["index"])
        if special is not None:
            return special(event)
        tests = [
            {
                "name": test.rsplit("::", 1)[1],
                "classname": "tests.test_recipes.T",
                "status": "passed",
                "phase": "unit",
                "durationMs": 10,
            }
            for test in shard["tests"]
        ]
        count = len(tests)
        result = {
            "name": "unit",
            "status": "passed",
            "durationMs": 5,
            "tests": {"total": count, "passed": count, "failed": 0, "errored": 0, "skipped": 0},
        }
        return _answer(event, result=result, tests=tests)


def test_a_sharded_phase_is_a_map_of_invokes_recorded_once(
    db: Database, requests: SuiteRequestService, deps: CoordinatorDeps
) -> None:
    request_id = _queue(requests, 3)
    runner = ShardRunner()
    result = _run(_sharding(deps, db), runner, request_id)

    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["outcome"] == "passed"
    assert runner.collects == 1
    assert sorted(runner.shard_calls) == [0, 1, 2]  # each shard invoked once, across every replay
    assert set(runner.tenants) == {"more-itertools"}
    (row,) = _executions(db, request_id)
    (unit,) = row["phases"]
    assert [s["index"] for s in unit["shards"]] == [0, 1, 2]
    assert [s["tests"] for s in unit["shards"]] == [3, 3, 3]
    assert unit["tests"]["total"] == 9
    timed = db.run(
        lambda conn: conn.execute(
            "SELECT count(*) AS n FROM test_timings WHERE scenario_name = 'more-itertools'"
        ).fetchone()
    )
    assert timed is not None
    assert timed["n"] == 9

    again = _queue(requests, 3)
    runner_again = ShardRunner()
    assert _run(_sharding(deps, db), runner_again, again).status.value == "SUCCEEDED"
    assert runner_again.collects == 0  # the same bundle: the collection came from the cache


def test_a_shard_whose_runner_crashed_is_invoked_once_more(
    db: Database, requests: SuiteRequestService, deps: CoordinatorDeps
) -> None:
    crashes = {"left": 1}

    def crash_once(event: dict[str, Any]) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("Runtime exited with error: signal 9")
        return ShardRunner()._answer_shard(event)

    request_id = _queue(requests, 3)
    runner = ShardRunner({1: crash_once})
    result = _run(_sharding(deps, db), runner, request_id)

    assert json.loads(result.result)["outcome"] == "passed", result.result
    assert sorted(runner.shard_calls) == [0, 1, 1, 2]
    (unit,) = _executions(db, request_id)[0]["phases"]
    assert [s["attempts"] for s in unit["shards"]] == [1, 2, 1]
    assert unit["tests"]["total"] == 9  # the retried shard counted once


def test_fail_fast_fails_the_phase_at_a_failing_shard(
    db: Database, requests: SuiteRequestService, deps: CoordinatorDeps
) -> None:
    """The map is told to end at the first failure (tolerated failures: none); under this in-process
    runner the other branches may still finish first, so they are passed or abandoned (cancelled)."""
    answered = threading.Event()

    def fail(event: dict[str, Any]) -> Any:
        answered.set()
        result = {
            "name": "unit",
            "status": "failed",
            "classification": "test_failure",
            "error": "1 of 3 tests failed: t::x",
            "failingTests": [{"name": "t::x"}],
            "tests": {"total": 3, "passed": 2, "failed": 1, "errored": 0, "skipped": 0},
        }
        return _answer(event, result=result)

    def after_the_failure(event: dict[str, Any]) -> Any:
        answered.wait(timeout=60)
        return ShardRunner()._answer_shard(event)

    request_id = _queue(requests, 3, fail_fast=True)
    runner = ShardRunner({0: fail, 1: after_the_failure, 2: after_the_failure})
    result = _run(_sharding(deps, db), runner, request_id)

    assert json.loads(result.result)["outcome"] == "failed", result.result
    (unit,) = _executions(db, request_id)[0]["phases"]
    statuses = [s["status"] for s in unit["shards"]]
    assert statuses[0] == "failed"
    assert set(statuses[1:]) <= {"passed", "cancelled"}
    assert [t["name"] for t in unit["failingTests"]] == ["t::x"]
    assert unit["error"].startswith("1 of ")


class _Item:
    def __init__(self, index: int, status: str, result: Any = None, message: str | None = None) -> None:
        self.index, self.status, self.result = index, status, result
        self.error = type("E", (), {"message": message})() if message is not None else None


def test_branches_still_running_when_the_map_ended_are_cancelled_shards() -> None:
    """How a map's items become shard outcomes: answered, failed fast (the outcome in the error),
    broken, or still running when failFast ended the map (abandoned: cancelled)."""
    from testgenie.coordinator.shards import DurableShards, outcome_to_json
    from testgenie.orchestrator.models import ShardAssignment
    from testgenie.runner.sharded import ShardOutcome
    from testgenie.shards.merge import ShardRun

    backend = DurableShards.__new__(DurableShards)
    part = ShardAssignment(index=1, count=3, tests=["a", "b"])
    answered = outcome_to_json(ShardOutcome(ShardRun(index=1, assigned=2, log_path="k")))
    assert backend._item(_Item(1, "SUCCEEDED", answered), part).run.log_path == "k"
    assert backend._item(_Item(1, "FAILED", message=json.dumps(answered)), part).run.log_path == "k"
    broken = backend._item(_Item(1, "FAILED", message="boom"), part).run
    assert (broken.status.value, broken.failure) == ("errored", "the shard's branch failed: boom")
    abandoned = backend._item(_Item(1, "STARTED"), part).run
    assert (abandoned.status.value, abandoned.assigned) == ("cancelled", 2)
