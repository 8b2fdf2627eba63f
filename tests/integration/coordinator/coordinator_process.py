"""One invocation of the durable coordinator in a process of its own, for the SIGKILL drill.

Reads the durable service's invocation on stdin, writes the handler's answer on stdout, as a Lambda
runtime would. With KILL_FLAG set, the first progress write after phase 1 announces itself (the flag
file, holding this process's pid) and waits to be killed: the test SIGKILLs the process mid-step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from testgenie.coordinator.flow import CoordinatorDeps, coordinate
from testgenie.db import Database
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.queue.service import SuiteRequestService
from testgenie_local.uploads import SignedUploadStore

from tests.support.context import FakeLambdaContext
from tests.support.services import suite_requests


class KilledMidStep:
    """The request service, whose first progress write after phase 1 waits to be killed (once)."""

    def __init__(self, inner: SuiteRequestService, flag: Path) -> None:
        self._inner = inner
        self._flag = flag

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def record_progress(self, claim: Any, progress: dict[str, Any]) -> bool:
        if progress.get("completedPhases") == 1 and not self._flag.exists():
            self._flag.write_text(str(os.getpid()))
            time.sleep(120)  # the test kills this process here
        return self._inner.record_progress(claim, progress)


def main() -> int:
    env = os.environ
    db = Database(env["DRILL_DATABASE_URL"])
    requests: Any = suite_requests(db)
    if env.get("KILL_FLAG"):
        requests = KilledMidStep(requests, Path(env["KILL_FLAG"]))
    endpoint = env["DRILL_ENDPOINT"]
    deps = CoordinatorDeps(
        requests=requests,
        db=db,
        bundles=LocalScenarioSource(env["DRILL_SCENARIOS"], packed_dir=Path(env["DRILL_WORK"]) / "packed"),
        artifacts=SignedUploadStore(
            Path(env["DRILL_WORK"]) / "artifacts", f"{endpoint}/_artifacts", "s" * 64
        ),
        runner_function="RunnerFunction",
        default_phase_timeout=60,
        execution_timeout_seconds=300,
    )
    client = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def coordinate_one(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        return coordinate(event, context, deps)

    handler = durable_execution(coordinate_one, boto3_client=client)

    context: Any = FakeLambdaContext()
    answer = handler(json.loads(sys.stdin.buffer.read()), context)
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
