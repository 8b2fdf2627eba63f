"""Queue throughput: N suite requests through the stack vs the same N straight through the service.

    python -m benchmarks.queue_throughput [--requests 500] [--concurrency 2]

Stack path: `testgenie serve` in its own process; requests are POSTed to /suite-requests over HTTP,
published to (moto) SQS, received by the poller (the template's batch size and window), run by the
execute handler and recorded in PostgreSQL. The clock runs from the first POST until every request
is terminal. Direct path, in the same run and on the same database server: the same N requests
queued and executed with `SuiteExecutionService.execute_queued` by `--concurrency` workers, each
with its own connection (as many "Lambda environments" as the stack has pollers).

Like for like: both paths run the same trivial scenario's one phase the same way, in the runner
(RunnerFunction as a process of its own interpreter in the sandbox the stack chooses, behind the
local Lambda Invoke endpoint, its log uploaded); the direct path plans from the scenario folder, the stack from its bucket. So the
ratio stack time / direct time (target <= 1.3) is what the stack adds around the same phases: the
HTTP POST, SQS, the poller and, since runs are durable executions, the durable coordination (a few
checkpointed steps a phase; the direct path runs the execution inside the call). Prints
executions/second for both and that ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Before the layer is imported (Powertools reads these once): no INFO lines per execution on stdout.
for _name, _value in (
    ("POWERTOOLS_LOG_LEVEL", "WARNING"),
    ("POWERTOOLS_METRICS_DISABLED", "true"),
    ("POWERTOOLS_TRACE_DISABLED", "true"),
):
    os.environ.setdefault(_name, _value)

import psycopg  # noqa: E402
from testgenie import bootstrap  # noqa: E402
from testgenie.db import Database  # noqa: E402
from testgenie.queue.models import QueueSuiteRequestInput  # noqa: E402
from testgenie.settings import Settings  # noqa: E402
from testgenie_local.polling import wait_for  # noqa: E402
from testgenie_local.runner_host import LocalRunner  # noqa: E402
from testgenie_local.sandbox import choose_sandbox  # noqa: E402
from testgenie_local.template import read_template  # noqa: E402
from testgenie_local.uploads import stack_artifact_store  # noqa: E402

from benchmarks.common import REPO_ROOT, fresh_database, print_table, record_figure  # noqa: E402

TARGET_RATIO = 1.3
SCENARIO = "bench-trivial"
TERMINAL = ("completed", "failed", "cancelled")
START_TIMEOUT = 180.0


def write_scenario(root: Path) -> Path:
    """A trivial scenario: one file check (every other phase of the catalog is skipped)."""
    folder = root / SCENARIO
    (folder / ".testgenie").mkdir(parents=True)
    (folder / "README.md").write_text(f"# {SCENARIO}\n\nThe queue throughput benchmark's scenario.\n")
    (folder / ".testgenie" / "testing.json").write_text(
        json.dumps({"phases": {"structure": {"requiredPaths": ["README.md"]}}}, indent=2)
    )
    return root


def terminal_count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM suite_requests WHERE status = ANY(%s)", (list(TERMINAL),)
        ).fetchone()
    return int(row[0]) if row else 0


def outcomes(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT status, count(*) FROM suite_requests GROUP BY status").fetchall()
        executions = conn.execute("SELECT count(*) FROM suite_executions").fetchone()
    found = {str(status): int(n) for status, n in rows}
    found["executions"] = int(executions[0]) if executions else 0
    return found


def truncate(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE suite_executions, suite_execution_phases, scenario_summaries, suite_requests")


# -- direct ---------------------------------------------------------------------------------------


def start_runner(artifacts: Path) -> tuple[LocalRunner, dict[str, str | None]]:
    """The template's RunnerFunction behind a local Lambda endpoint, as `testgenie serve` runs it."""
    spec = read_template(REPO_ROOT / "template.yaml").functions["RunnerFunction"]
    # The sandbox `testgenie serve` chooses (bubblewrap; SandboxUnavailable says why not), so both
    # paths pay the same per-environment cost.
    sandbox = choose_sandbox(say=lambda line: print(line, file=sys.stderr))
    runner = LocalRunner(
        [spec], artifacts_dir=artifacts, upload_secret=secrets.token_hex(16), sandbox=sandbox
    )
    env = runner.start()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = str(env["AWS_ENDPOINT_URL_LAMBDA"])
    return runner, env


def run_direct(url: str, scenarios: Path, artifacts: Path, requests: int, concurrency: int) -> float:
    """Queue + execute `requests` suite requests through the services; returns the elapsed seconds."""
    runner, env = start_runner(artifacts)
    settings = Settings(
        database_url=url,
        scenarios_source=str(scenarios),
        artifacts_dir=artifacts,
        artifacts_upload_url=env["ARTIFACTS_UPLOAD_URL"],
        artifacts_upload_secret=env["ARTIFACTS_UPLOAD_SECRET"],
        runner_function_name="RunnerFunction",
    )
    payload = QueueSuiteRequestInput.model_validate({"scenarioName": SCENARIO})
    shares = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    environments = []
    for _ in range(concurrency):
        db = Database(url)
        db.ping()
        # the runner's orchestrator, as in ExecuteFunction, with the stack's signed log uploads
        services = bootstrap.build(settings, database=db, artifacts=stack_artifact_store(settings))
        environments.append((db, services.suite_requests, services.execution))
    try:
        # Warm the runner once (not counted), as the stack path's warm-up request does.
        _, queue, executions = environments[0]
        request, _ = queue.queue(payload)
        executions.execute_queued(request.id)
        truncate(url)
        return _direct_workers(environments, payload, shares)
    finally:
        runner.stop()


def _direct_workers(environments: list[Any], payload: QueueSuiteRequestInput, shares: list[int]) -> float:
    concurrency = len(environments)
    barrier = threading.Barrier(concurrency + 1)
    failures: list[BaseException] = []

    def work(index: int) -> None:
        _, queue, executions = environments[index]
        barrier.wait()
        try:
            for _ in range(shares[index]):
                request, _ = queue.queue(payload)
                if executions.execute_queued(request.id) is None:
                    raise RuntimeError(f"request {request.id} could not be claimed")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for db, _, _ in environments:
        db.close()
    if failures:
        raise SystemExit(f"direct run failed: {failures[0]!r}")
    return elapsed


# -- through the stack ----------------------------------------------------------------------------


class Stack:
    """`testgenie serve` in its own process (its own process group), on the benchmark's database."""

    def __init__(self, url: str, scenarios: Path, folder: Path, concurrency: int) -> None:
        ready = folder / "ready.json"
        self.log = folder / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "AWS_ENDPOINT"))}
        env.update(
            {
                "DATABASE_URL": url,
                "TESTGENIE_POLLER_CONCURRENCY": str(concurrency),
                "PYTHONUNBUFFERED": "1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        command = [
            sys.executable,
            "-m",
            "testgenie_local.cli",
            "serve",
            "--port",
            "0",
            "--template",
            str(REPO_ROOT / "template.yaml"),
            "--scenarios",
            str(scenarios),
            "--data-dir",
            str(folder / "data"),
            "--ready-file",
            str(ready),
        ]
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT / "local"), str(REPO_ROOT / "layers" / "core"), env.get("PYTHONPATH", "")]
        )
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                command, cwd=folder, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )

        def is_ready() -> bool:
            if self.process.poll() is not None:
                raise SystemExit(f"`testgenie serve` exited with {self.process.returncode}:\n{self.tail()}")
            return ready.is_file() and ready.stat().st_size > 0

        wait_for(is_ready, START_TIMEOUT, "`testgenie serve` to be ready", interval=0.1)
        self.api = json.loads(ready.read_text())["api_url"] + "/api/v1"

    def post(self, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - the local stack's http URL
            f"{self.api}/suite-requests",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            if answer.status != 201:
                raise SystemExit(f"POST /suite-requests answered {answer.status}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def run_stack(url: str, scenarios: Path, folder: Path, requests: int, concurrency: int) -> float:
    """POST `requests` suite requests and wait until all are terminal; returns the elapsed seconds."""
    stack = Stack(url, scenarios, folder, concurrency)
    try:
        stack.post({"scenarioName": SCENARIO})  # warm the gateway and the handler once (not counted)
        wait_for(lambda: terminal_count(url) == 1, 120, "the warm-up request")
        truncate(url)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as clients:
            list(clients.map(lambda _: stack.post({"scenarioName": SCENARIO}), range(requests)))
        posted = time.perf_counter() - started
        # Generous: each request is a durable execution whose every phase is a few checkpointed steps
        # (seconds a request on a busy machine); the figure is the time taken, not this bound.
        wait_for(lambda: terminal_count(url) >= requests, 120 + 10 * requests, "every request to be terminal")
        elapsed = time.perf_counter() - started
        print(f"stack: {requests} POSTs answered after {posted:.2f} s, all terminal after {elapsed:.2f} s")
        return elapsed
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500, help="suite requests per path (default 500)")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="stack pollers = direct workers (default 2, the stack's)"
    )
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")

    with tempfile.TemporaryDirectory(prefix="testgenie-queue-bench-") as tmp, fresh_database() as url:
        folder = Path(tmp)
        scenarios = write_scenario(folder / "scenarios")
        direct = run_direct(url, scenarios, folder / "artifacts", args.requests, args.concurrency)
        direct_result = outcomes(url)
        truncate(url)
        stack = run_stack(url, scenarios, folder, args.requests, args.concurrency)
        stack_result = outcomes(url)

    for name, result in (("direct", direct_result), ("stack", stack_result)):
        if result.get("completed") != args.requests or result["executions"] != args.requests:
            raise SystemExit(f"{name} path did not complete every request exactly once: {result}")
    ratio = stack / direct
    print_table(
        f"Queue throughput: {args.requests} requests of a trivial scenario, concurrency {args.concurrency}, "
        f"{os.cpu_count()} cores",
        ["path", "requests", "seconds", "executions/s"],
        [
            [
                "direct (SuiteExecutionService)",
                str(args.requests),
                f"{direct:.2f}",
                f"{args.requests / direct:.1f}",
            ],
            [
                "stack (HTTP -> SQS -> poller -> handler)",
                str(args.requests),
                f"{stack:.2f}",
                f"{args.requests / stack:.1f}",
            ],
        ],
    )
    met = ratio <= TARGET_RATIO
    print(
        f"\nratio stack time / direct time: {ratio:.2f} (target <= {TARGET_RATIO}) {'met' if met else 'NOT met'}"
    )
    record_figure("queue_throughput", "direct executions/s", round(args.requests / direct, 1), "-", True)
    record_figure("queue_throughput", "stack executions/s", round(args.requests / stack, 1), "-", True)
    record_figure("queue_throughput", "stack/direct time", round(ratio, 2), f"<= {TARGET_RATIO}", met)


if __name__ == "__main__":
    main()
