"""A worker killed with SIGKILL mid-phase -> the reaper re-queues -> one execution, a completed request.

The worker is its own process (the execute handler on one SQS record); its phase blocks on the first
attempt until the whole process tree is killed. The lease then runs out, the real reaper re-queues
and re-publishes the request (moto SQS), and a second worker process runs it from that message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import boto3
import pytest
from moto import mock_aws
from testgenie.db import Database
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.queue.publisher import SqsPublisher
from testgenie_local.polling import wait_for
from testgenie_local.stack import child_pids

from tests.support.drills import make_scenario, query
from tests.support.paths import REPO_ROOT
from tests.support.services import suite_requests

LEASE_SECONDS = 5  # the smallest lease settings allow; the reaper may take the request back after it

# The lint phase's command: the first attempt records its pid and blocks until it is killed; later
# attempts pass at once. Attempts are told apart by an O_EXCL marker outside the workspace.
BLOCK_ON_FIRST_ATTEMPT = """
import os, sys, time
marker, starts = sys.argv[1], sys.argv[2]
with open(starts, "a") as log:
    log.write(f"{os.getpid()}\\n")
try:
    os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except FileExistsError:
    print("second attempt: lint ok")
    sys.exit(0)
while True:
    time.sleep(1)
"""


def worker_env(database_url: str, scenarios: Path, artifacts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "AWS_ENDPOINT", "SUITE_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SCENARIOS_SOURCE": str(scenarios),
            "ARTIFACTS_DIR": str(artifacts),
            "LEASE_SECONDS": str(LEASE_SECONDS),
            "MAX_ATTEMPTS": "3",
            "PHASE_TIMEOUT_SECONDS": "120",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_worker(request_id: UUID, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.worker", str(request_id)],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as one Lambda environment
        )


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def kill_tree(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL the worker's process group and the groups of everything it started (its commands run
    in their own sessions); returns every pid that was killed."""
    victims = [proc.pid, *child_pids(proc.pid)]
    groups = set()
    for pid in victims:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue
    proc.wait(timeout=30)
    return victims


@pytest.fixture
def sqs_queue() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="suite-requests")[
            "QueueUrl"
        ]


@pytest.mark.timeout(180)
def test_killed_worker_is_reaped_and_the_request_runs_once(
    new_database: Callable[[], str], tmp_path: Path, sqs_queue: str
) -> None:
    url = new_database()
    marker, starts = tmp_path / "first-attempt", tmp_path / "lint-starts.log"
    scenarios = tmp_path / "scenarios"
    make_scenario(
        scenarios,
        "rel-blocking",
        {
            "structure": {"requiredPaths": ["README.md"]},
            "lint": {
                "timeout": "120s",
                "commands": [["python", "-c", BLOCK_ON_FIRST_ATTEMPT, str(marker), str(starts)]],
            },
        },
    )
    env = worker_env(url, scenarios, tmp_path / "artifacts")
    db = Database(url)
    sqs = boto3.client("sqs", region_name="us-east-1")
    reaper = suite_requests(db, SqsPublisher(sqs_queue, sqs), lease_seconds=LEASE_SECONDS, max_attempts=3)
    queued, _ = reaper.queue(QueueSuiteRequestInput.model_validate({"scenarioName": "rel-blocking"}))
    request_id = queued.id

    first = start_worker(request_id, env, tmp_path / "worker1.log")
    try:
        # Mid-phase: structure has passed and been recorded, lint's command is running (and blocking).
        wait_for(lambda: starts.is_file() and starts.read_text().strip(), 60, "the first lint attempt")
        running = reaper.get(request_id)
        assert running.status.value == "running"
        assert running.attempts == 1
        assert running.progress is not None
        ran = [(p["name"], p["status"]) for p in running.progress["phases"] if p["status"] != "skipped"]
        assert ran == [("structure", "passed")]
        assert running.progress.get("currentPhase") == "lint"
        blocked_pid = int(starts.read_text().split()[0])
        assert blocked_pid in child_pids(first.pid)
        assert first.poll() is None
    finally:
        victims = kill_tree(first)
    assert first.returncode == -signal.SIGKILL
    wait_for(lambda: not any(alive(pid) for pid in victims), 30, "the killed worker's processes to go")
    # Nothing was recorded by the killed attempt.
    assert query(url, "SELECT count(*) AS n FROM suite_executions") == [{"n": 0}]
    assert reaper.get(request_id).status.value == "running"

    # The lease runs out; the reaper (the scheduled `reap` action) re-queues and re-publishes it.
    def reaped() -> bool:
        return request_id in reaper.reap_expired().requeued

    wait_for(reaped, LEASE_SECONDS + 60, "the reaper to re-queue the request", interval=0.25)
    requeued = reaper.get(request_id)
    assert requeued.status.value == "queued"
    assert requeued.attempts == 1
    messages = sqs.receive_message(QueueUrl=sqs_queue, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    # The first publish (at queue time) and the reaper's re-publish.
    assert bodies == [{"suiteRequestId": str(request_id)}] * 2

    second = start_worker(UUID(bodies[-1]["suiteRequestId"]), env, tmp_path / "worker2.log")
    try:
        code = second.wait(timeout=120)
    finally:
        if second.poll() is None:
            kill_tree(second)
    output = (tmp_path / "worker2.log").read_text()
    assert code == 0, output[-3000:]
    assert json.loads(output.strip().splitlines()[-1]) == {"batchItemFailures": []}

    # A duplicate of the message (the first publish) changes nothing any more.
    third = start_worker(request_id, env, tmp_path / "worker3.log")
    assert third.wait(timeout=120) == 0

    done = reaper.get(request_id)
    assert done.status.value == "completed"
    assert done.attempts == 2
    executions = query(
        url,
        "SELECT id, outcome, success, phases FROM suite_executions WHERE suite_request_id = %s",
        (request_id,),
    )
    assert len(executions) == 1
    assert done.execution_id == executions[0]["id"]
    assert (executions[0]["outcome"], executions[0]["success"]) == ("passed", True)
    statuses = {p["name"]: p["status"] for p in executions[0]["phases"]}
    assert statuses["structure"] == statuses["lint"] == "passed"
    assert "failed" not in statuses.values()
    assert query(url, "SELECT count(*) AS n FROM suite_executions") == [{"n": 1}]
    assert len(starts.read_text().split()) == 2  # lint started twice: killed once, run once
    db.close()
