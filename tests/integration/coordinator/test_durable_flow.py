"""The durable coordinator under the SDK's own in-process runner, against a real PostgreSQL.

Every chained invoke's completion re-invokes the handler from the top (a replay), so a run of N
phases replays N times: these tests count what reached the runner and the database to show that a
replay repeats no effect (claim once, each phase once, the record once).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from testgenie.coordinator.execution_input import start_event
from testgenie.coordinator.flow import CoordinatorDeps, coordinate
from testgenie.db import Database
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.queue.service import SuiteRequestService
from testgenie.records import execution_id_for
from testgenie.runner.bounds import ANSWER_BUDGET_BYTES
from testgenie_local.uploads import SignedUploadStore

from tests.support.services import suite_requests

SCENARIOS = Path(__file__).resolve().parents[2] / "e2e" / "scenarios"
RUNNER = "RunnerFunction"


def _answer(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "protocol": 1,
        "executionId": event["executionId"],
        "phase": event["phase"],
        "result": {"name": event["phase"], "status": "passed", "durationMs": 5, "durationSeconds": 1},
        "logStored": True,
        "bundleSha256": event["bundle"]["sha256"],
    }
    answer.update(changes)
    return answer


class StandInRunner:
    """RunnerFunction's stand-in: answers each phase (or misbehaves as told) and counts the calls."""

    def __init__(self, behave: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.tenants: list[str | None] = []
        self._behave = behave
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.calls[event["phase"]] += 1
            self.tenants.append(getattr(context, "tenant_id", None))
        return self._behave(event) if self._behave else _answer(event)


class CountingRequests:
    """The real SuiteRequestService, counting claims and records (and failing a call once on demand)."""

    def __init__(self, inner: SuiteRequestService, fail_once: str | None = None) -> None:
        self._inner = inner
        self.counts: Counter[str] = Counter()
        self._fail_once = fail_once

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            if name == self._fail_once:
                self._fail_once = None
                raise ConnectionError(f"{name}: the database went away")
            return method(*args, **kwargs)

        return call


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


def _run(deps: Any, runner: StandInRunner, request_id: UUID) -> Any:
    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        return coordinate(event, context, deps)

    with DurableFunctionTestRunner(handler) as durable:
        durable.register_function(RUNNER, runner)
        return durable.run(
            input=json.dumps(start_event(request_id)), execution_name=str(request_id), execution_timeout=120
        )


def _queue(requests: SuiteRequestService, scenario: str, phases: list[str]) -> UUID:
    request, _ = requests.queue(QueueSuiteRequestInput(scenario_name=scenario, phases=phases))
    return request.id


def _executions(db: Database, request_id: UUID) -> list[Any]:
    return db.run(
        lambda conn: conn.execute(
            "SELECT id, outcome, phases, warnings FROM suite_executions WHERE suite_request_id = %s",
            (request_id,),
        ).fetchall()
    )


def test_each_effect_happens_once_across_replays(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    request_id = _queue(requests, "e2e-slow", ["structure", "lint", "standards"])
    counting = CountingRequests(requests)
    runner = StandInRunner()
    result = _run(replace(deps, requests=counting), runner, request_id)

    assert result.status.value == "SUCCEEDED", result.error
    assert json.loads(result.result)["outcome"] == "passed"
    assert runner.calls == {"structure": 1, "lint": 1, "standards": 1}
    assert runner.tenants == ["e2e-slow"] * 3  # every invoke carries its scenario as tenant
    assert counting.counts["claim_durable"] == 1
    assert counting.counts["finish"] == 1
    rows = _executions(db, request_id)
    assert len(rows) == 1
    assert rows[0]["id"] == execution_id_for(request_id)
    assert [p["name"] for p in rows[0]["phases"]] == ["structure", "lint", "standards"]
    assert requests.get(request_id).status is SuiteRequestStatus.COMPLETED


def test_a_failed_step_is_retried_and_no_phase_runs_twice(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    request_id = _queue(requests, "e2e-pass", ["structure", "lint"])
    counting = CountingRequests(requests, fail_once="record_progress")
    runner = StandInRunner()
    result = _run(replace(deps, requests=counting), runner, request_id)

    assert result.status.value == "SUCCEEDED", result.error
    assert counting.counts["record_progress"] >= 2  # the failed write was tried again
    assert runner.calls == {"structure": 1, "lint": 1}
    assert len(_executions(db, request_id)) == 1


def test_fail_fast_and_classification_keep_their_behaviour(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    request, _ = requests.queue(
        QueueSuiteRequestInput(
            scenario_name="e2e-slow", phases=["structure", "lint", "standards"], fail_fast=True
        )
    )

    def behave(event: dict[str, Any]) -> Any:
        if event["phase"] == "lint":
            return _answer(
                event, result={"name": "lint", "status": "failed", "classification": "test_failure"}
            )
        return _answer(event)

    runner = StandInRunner(behave)
    result = _run(deps, runner, request.id)

    assert json.loads(result.result)["outcome"] == "failed"
    assert runner.calls == {"structure": 1, "lint": 1}  # fail-fast: standards never ran
    row = _executions(db, request.id)[0]
    assert row["outcome"] == "failed"
    assert row["phases"][1]["classification"] == "test_failure"


@pytest.mark.parametrize(
    ("misbehaviour", "outcome", "classification"),
    [("raise", "errored", "system"), ("junk", "errored", "system")],
)
def test_a_runner_that_lets_the_coordinator_down_ends_the_run_recorded(
    db: Database,
    requests: SuiteRequestService,
    deps: Any,
    misbehaviour: str,
    outcome: str,
    classification: str,
) -> None:
    request_id = _queue(requests, "e2e-pass", ["structure", "lint"])

    def behave(event: dict[str, Any]) -> Any:
        if misbehaviour == "raise":
            raise RuntimeError("the runner fell over")
        return {"status": "fine, thanks"}

    runner = StandInRunner(behave)
    result = _run(deps, runner, request_id)

    assert result.status.value == "SUCCEEDED", result.error  # the execution itself recorded its end
    assert runner.calls == {"structure": 1}
    row = _executions(db, request_id)[0]
    assert row["outcome"] == outcome
    assert row["phases"][0]["classification"] == classification
    assert requests.get(request_id).status is SuiteRequestStatus.FAILED


def test_cancel_between_phases_stops_the_loop(db: Database, requests: SuiteRequestService, deps: Any) -> None:
    request_id = _queue(requests, "e2e-slow", ["structure", "lint", "standards"])

    def behave(event: dict[str, Any]) -> Any:
        requests.cancel(request_id)  # asked while the first phase runs
        return _answer(event)

    runner = StandInRunner(behave)
    result = _run(deps, runner, request_id)

    assert json.loads(result.result)["outcome"] == "cancelled"
    assert runner.calls == {"structure": 1}
    assert requests.get(request_id).status is SuiteRequestStatus.CANCELLED


def test_a_request_no_longer_claimable_runs_nothing(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    request_id = _queue(requests, "e2e-pass", ["structure"])
    requests.cancel(request_id)
    runner = StandInRunner()
    result = _run(deps, runner, request_id)

    assert json.loads(result.result) == {"suiteRequestId": str(request_id), "claimed": False}
    assert not runner.calls
    assert _executions(db, request_id) == []


def test_a_plan_that_no_longer_fits_fails_the_request_with_the_reason(
    db: Database, requests: SuiteRequestService, deps: Any, tmp_path: Path
) -> None:
    request_id = _queue(requests, "e2e-pass", ["structure", "lint"])
    empty = tmp_path / "empty-scenarios"
    empty.mkdir()
    runner = StandInRunner()
    result = _run(
        replace(deps, bundles=LocalScenarioSource(empty, packed_dir=tmp_path / "p2")), runner, request_id
    )

    assert json.loads(result.result)["outcome"] == "errored"
    assert not runner.calls
    current = requests.get(request_id)
    assert current.status is SuiteRequestStatus.FAILED
    assert "invalid plan" in (current.reason or "")


def test_an_oversized_answer_is_cut_to_fit_a_checkpoint(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    from testgenie.runner.bounds import bound_answer
    from testgenie.runner.protocol import PhaseAnswer

    request_id = _queue(requests, "e2e-pass", ["structure"])
    many = [{"text": f"observation {i} " + "x" * 200} for i in range(3000)]

    def behave(event: dict[str, Any]) -> Any:
        answer = PhaseAnswer.model_validate(
            _answer(event, result={"name": event["phase"], "status": "passed", "observations": many})
        )
        bounded = bound_answer(answer)  # what the runner does before answering
        assert len(bounded.model_dump_json(by_alias=True)) <= ANSWER_BUDGET_BYTES
        return bounded.model_dump(mode="json", by_alias=True)

    result = _run(deps, StandInRunner(behave), request_id)

    assert json.loads(result.result)["outcome"] == "passed"
    row = _executions(db, request_id)[0]
    assert 0 < len(row["phases"][0]["observations"]) < len(many)
    assert any("truncated to fit a checkpoint" in w for w in row["warnings"] or [])


def _killed() -> BaseException:
    """The coordinator's process dying mid-invocation: the invocation fails and Lambda invokes again
    (what the SDK's InvocationError asks for); nothing of the dying step is checkpointed."""
    from aws_durable_execution_sdk_python import InvocationError

    return InvocationError("the coordinator was killed")


def test_an_invocation_that_dies_is_replayed_without_repeating_checkpointed_phases(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    request_id = _queue(requests, "e2e-slow", ["structure", "lint", "standards"])
    counting = CountingRequests(requests)
    died: list[str] = []

    def record_progress(claim: Any, progress: dict[str, Any]) -> bool:
        # The invocation after the second phase's answer dies while recording its progress, once.
        if progress.get("completedPhases") == 2 and not died:
            died.append("progress 2")
            raise _killed()
        return requests.record_progress(claim, progress)

    counting.record_progress = record_progress  # type: ignore[attr-defined]
    runner = StandInRunner()
    result = _run(replace(deps, requests=counting), runner, request_id)

    assert died == ["progress 2"]
    assert result.status.value == "SUCCEEDED", result.error
    assert runner.calls == {"structure": 1, "lint": 1, "standards": 1}  # no phase ran twice
    assert counting.counts["claim_durable"] == 1
    assert len(_executions(db, request_id)) == 1


def test_no_database_connection_is_held_while_a_phase_runs(
    database_url: str, requests: SuiteRequestService, deps: Any
) -> None:
    coordinator_db = Database(database_url)  # the coordinator's own, as in its Lambda environment
    own = replace(deps, db=coordinator_db, requests=suite_requests(coordinator_db))
    request_id = _queue(requests, "e2e-slow", ["structure", "lint", "standards"])
    held: list[bool] = []

    def behave(event: dict[str, Any]) -> Any:
        held.append(coordinator_db.holds_connection)
        return _answer(event)

    result = _run(own, StandInRunner(behave), request_id)

    assert json.loads(result.result)["outcome"] == "passed"
    assert held == [False, False, False]
    assert not coordinator_db.holds_connection


def test_a_request_that_can_never_be_claimed_is_failed_not_left_queued(
    db: Database, requests: SuiteRequestService, deps: Any
) -> None:
    request_id = _queue(requests, "e2e-pass", ["structure"])

    class Unclaimable(CountingRequests):
        def claim_durable(self, request_id: UUID, arn: str) -> Any:
            self.counts["claim_durable"] += 1
            raise RuntimeError("claim refused (a poison request)")

    refusing = Unclaimable(requests)
    runner = StandInRunner()
    result = _run(replace(deps, requests=refusing), runner, request_id)

    assert result.status.value == "SUCCEEDED", result.error
    assert refusing.counts["claim_durable"] > 1  # the step was retried, then it gave up
    assert not runner.calls
    current = requests.get(request_id)
    assert current.status is SuiteRequestStatus.FAILED
    assert (current.reason or "").startswith("interrupted: the request could not be claimed")
    assert [r["outcome"] for r in _executions(db, request_id)] == ["errored"]
