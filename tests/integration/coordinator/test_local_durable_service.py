"""The durable path over real HTTP: ExecuteFunction's SQS handler starts executions through Lambda's
Invoke API (the local Lambda endpoint), the SDK's local runner drives the real coordinator, whose
checkpoints and chained invokes go back through the same endpoint; a real PostgreSQL records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from botocore.config import Config
from testgenie.coordinator.control import LambdaDurableControl
from testgenie.coordinator.flow import CoordinatorDeps, coordinate
from testgenie.db import Database
from testgenie.entrypoints.sqs import DurableStartRecordHandler, process_batch
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequestStatus
from testgenie.queue.service import SuiteRequestService
from testgenie.records import execution_id_for
from testgenie_local.durable_host import DurableFunction, LocalDurableService
from testgenie_local.lambda_endpoint import LambdaEndpoint
from testgenie_local.polling import wait_for
from testgenie_local.uploads import SignedUploadStore

from tests.support.context import FakeLambdaContext
from tests.support.events import suite_request_message
from tests.support.services import suite_requests

REPO_ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = REPO_ROOT / "tests" / "e2e" / "scenarios"
DELIVERIES = 50
COORDINATOR = "CoordinatorFunction"


def _lambda_client(url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )


class StandInRunner:
    """RunnerFunction behind the endpoint: answers each phase, or holds it until released."""

    per_tenant = False

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.started = threading.Event()
        self.release = threading.Event()
        self.hold: set[str] = set()

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]:
        event = json.loads(payload)
        self.calls[event["phase"]] += 1
        self.started.set()
        if event["phase"] in self.hold:
            self.release.wait(timeout=60)
        answer = {
            "protocol": 1,
            "executionId": event["executionId"],
            "phase": event["phase"],
            "result": {"name": event["phase"], "status": "passed", "durationMs": 5},
            "logStored": True,
            "bundleSha256": event["bundle"]["sha256"],
        }
        return None, json.dumps(answer).encode()


@dataclass
class CoordinatorHandler:
    """The durable coordinator as the endpoint invokes it (the durable service's handler calls)."""

    handler: Any
    per_tenant: bool = False

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]:
        return None, json.dumps(self.handler(json.loads(payload), FakeLambdaContext())).encode()


@dataclass
class DurableStack:
    endpoint: LambdaEndpoint
    runner: StandInRunner
    data_dir: Path
    deps: CoordinatorDeps
    service: LocalDurableService | None = None

    def start_service(self) -> LocalDurableService:
        service = LocalDurableService(
            self.data_dir,
            lambda_endpoint=self.endpoint.url,
            durable=[DurableFunction(COORDINATOR, 300)],
            plain=["RunnerFunction"],
            invocation_timeout=60,
            region="us-east-1",
        )
        service.start()
        client = _lambda_client(self.endpoint.url)
        deps = self.deps

        def coordinate_one(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
            return coordinate(event, context, deps)

        handler = durable_execution(coordinate_one, boto3_client=client)

        self.endpoint.serve_durable(service, {COORDINATOR: CoordinatorHandler(handler)})
        self.service = service
        return service


@pytest.fixture
def requests(db: Database) -> SuiteRequestService:
    return suite_requests(db)


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[DurableStack]:
    runner = StandInRunner()
    endpoint = LambdaEndpoint({"RunnerFunction": runner}, artifacts_dir=None, upload_secret="s" * 64)
    endpoint.start()
    coordinator_db = Database(database_url)  # the coordinator's environment's own connection
    deps = CoordinatorDeps(
        requests=suite_requests(coordinator_db),
        db=coordinator_db,
        bundles=LocalScenarioSource(SCENARIOS, packed_dir=tmp_path / "packed"),
        artifacts=SignedUploadStore(tmp_path / "artifacts", f"{endpoint.url}/_artifacts", "s" * 64),
        runner_function="RunnerFunction",
        default_phase_timeout=60,
        execution_timeout_seconds=300,
    )
    stack = DurableStack(endpoint, runner, tmp_path / "durable", deps)
    yield stack
    runner.release.set()
    if stack.service is not None:
        stack.service.stop()
    endpoint.stop()


def _executions(db: Database, request_id: UUID) -> list[Any]:
    return db.run(
        lambda conn: conn.execute(
            "SELECT id, outcome FROM suite_executions WHERE suite_request_id = %s", (request_id,)
        ).fetchall()
    )


@pytest.mark.timeout(240)
def test_fifty_concurrent_deliveries_start_one_durable_execution(
    db: Database, requests: SuiteRequestService, stack: DurableStack
) -> None:
    stack.start_service()
    queued, _ = requests.queue(QueueSuiteRequestInput(scenario_name="e2e-pass", phases=["structure", "lint"]))
    event = suite_request_message(str(queued.id))
    # One "Lambda environment" per delivery: its own Lambda client.
    controls = [
        LambdaDurableControl(f"{COORDINATOR}:live", _lambda_client(stack.endpoint.url))
        for _ in range(DELIVERIES)
    ]
    handlers = [DurableStartRecordHandler(partial(_started, control)) for control in controls]
    barrier = threading.Barrier(DELIVERIES, timeout=60)
    outcomes: list[str] = []
    lock = threading.Lock()

    def deliver(index: int) -> None:
        def record(record: Any) -> str:
            outcome = handlers[index](record)
            with lock:
                outcomes.append(outcome)
            return outcome

        barrier.wait()
        response = process_batch(event, None, record)
        assert response == {"batchItemFailures": []}

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(Counter(outcomes).items()) == [("duplicate", DELIVERIES - 1), ("started", 1)]
    wait_for(lambda: _executions(db, queued.id), 120, "the execution's record")
    rows = _executions(db, queued.id)
    assert [(r["id"], r["outcome"]) for r in rows] == [(execution_id_for(queued.id), "passed")]
    assert stack.runner.calls == {"structure": 1, "lint": 1}
    assert requests.get(queued.id).status is SuiteRequestStatus.COMPLETED
    # The record is the execution's last step; the durable service then closes the execution.
    assert wait_for(lambda: controls[0].ended(queued.id), 60, "the execution to close") == "SUCCEEDED"


@pytest.mark.timeout(240)
def test_a_restart_fails_what_the_last_service_left_running_as_interrupted(
    db: Database, requests: SuiteRequestService, stack: DurableStack
) -> None:
    first = stack.start_service()
    stack.runner.hold = {"lint"}
    queued, _ = requests.queue(QueueSuiteRequestInput(scenario_name="e2e-pass", phases=["structure", "lint"]))
    control = LambdaDurableControl(f"{COORDINATOR}:live", _lambda_client(stack.endpoint.url))
    assert control.start(queued.id)
    wait_for(lambda: stack.runner.calls["lint"] == 1, 60, "the second phase to be in flight")
    first.stop()  # the stack goes away with the phase in flight

    second = stack.start_service()
    left = second.interrupted("interrupted: the local stack stopped while it ran")
    assert left == [str(queued.id)]
    ended = requests.record_stopped(
        queued.id, "interrupted: the local stack stopped while it ran", SuiteRequestStatus.FAILED
    )
    assert ended.status is SuiteRequestStatus.FAILED
    assert [p["name"] for p in (ended.progress or {})["phases"]] == ["structure"]
    assert second.interrupted("again") == []  # stopped: a second restart finds nothing left
    # The name stays taken: a late duplicate delivery never starts the request again, and Lambda's
    # list by name says how the execution ended.
    assert control.start(queued.id) is None
    assert control.ended(queued.id) == "STOPPED"


@dataclass
class CoordinatorProcess:
    """The coordinator as the durable service invokes it, each invocation a process of its own."""

    env: dict[str, str]
    per_tenant: bool = False

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.integration.coordinator.coordinator_process"],
            input=payload,
            capture_output=True,
            cwd=REPO_ROOT,
            env=self.env,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:  # killed, or it raised: the invocation failed, Lambda tries again
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"exit {done.returncode}"}
            return "Unhandled", json.dumps(error).encode()
        return None, done.stdout


@pytest.mark.timeout(240)
def test_a_coordinator_killed_mid_step_is_replayed_and_runs_no_phase_twice(
    database_url: str, db: Database, requests: SuiteRequestService, stack: DurableStack, tmp_path: Path
) -> None:
    service = LocalDurableService(
        tmp_path / "killed",
        lambda_endpoint=stack.endpoint.url,
        durable=[DurableFunction(COORDINATOR, 300)],
        plain=["RunnerFunction"],
        invocation_timeout=120,
        region="us-east-1",
    )
    service.start()
    stack.service = service
    flag = tmp_path / "killed-mid-step.pid"
    env = {
        **os.environ,
        "DRILL_DATABASE_URL": database_url,
        "DRILL_ENDPOINT": stack.endpoint.url,
        "DRILL_SCENARIOS": str(SCENARIOS),
        "DRILL_WORK": str(tmp_path),
        "KILL_FLAG": str(flag),
    }
    stack.endpoint.serve_durable(service, {COORDINATOR: CoordinatorProcess(env)})
    queued, _ = requests.queue(
        QueueSuiteRequestInput(scenario_name="e2e-slow", phases=["structure", "lint", "standards"])
    )
    control = LambdaDurableControl(f"{COORDINATOR}:live", _lambda_client(stack.endpoint.url))
    assert control.start(queued.id)

    wait_for(flag.exists, 120, "the coordinator to reach its progress step after phase 1")
    pid = int(wait_for(lambda: flag.read_text().strip(), 10, "its pid"))
    os.kill(pid, signal.SIGKILL)  # mid-step: the progress write never happened

    wait_for(lambda: _executions(db, queued.id), 180, "the execution's record")
    assert [r["outcome"] for r in _executions(db, queued.id)] == ["passed"]
    # Phase 1's answer was checkpointed before the kill: it did not run again; nor did any other.
    assert stack.runner.calls == {"structure": 1, "lint": 1, "standards": 1}
    final = requests.get(queued.id)
    assert final.status is SuiteRequestStatus.COMPLETED
    assert final.attempts == 1  # claimed once: the replay found its claim checkpointed


def _started(control: Any, request_id: UUID) -> bool:
    return control.start(request_id) is not None


@pytest.mark.timeout(240)
def test_a_list_by_name_answers_as_the_runner_without_reading_every_execution(stack: DurableStack) -> None:
    service = stack.start_service()
    control = LambdaDurableControl(f"{COORDINATOR}:live", _lambda_client(stack.endpoint.url))
    names = [uuid4() for _ in range(3)]  # requests nobody queued: each execution ends unclaimed
    for name in names:
        assert control.start(name) is not None
    for name in names:
        wait_for(partial(control.ended, name), 60, "the unclaimed execution to end")
    store = service._runner._store  # the SDK's filesystem store behind the web runner
    reads: list[int] = []
    list_all = store.list_all

    def counted() -> Any:
        reads.append(1)
        return list_all()

    store.list_all = counted
    for name in [*names, uuid4()]:
        path = f"/2025-12-01/functions/{COORDINATOR}/durable-executions?DurableExecutionName={name}"
        code, _, answer = service.forward("GET", path)
        assert code == 200
        assert reads == [], "a list by name read every execution of the store"
        runner_code, _, runner_answer = service._send("GET", path)  # the runner's own answer
        reads.clear()
        assert (code, json.loads(answer)) == (runner_code, json.loads(runner_answer))
        expected = 0 if name not in names else 1
        assert len(json.loads(answer)["DurableExecutions"]) == expected
    other = f"/2025-12-01/functions/RunnerFunction/durable-executions?DurableExecutionName={names[0]}"
    assert json.loads(service.forward("GET", other)[2]) == {"DurableExecutions": []}
    assert control.ended(names[0]) == "SUCCEEDED"  # through the endpoint, as a duplicate start asks
