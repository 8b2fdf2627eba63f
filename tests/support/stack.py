"""`testgenie serve` as a subprocess on a free port, spoken to over real HTTP (e2e, drills, browser)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testgenie.queue.models import TERMINAL as TERMINAL_STATUSES
from testgenie_local.polling import wait_for

from tests.support.paths import TEMPLATE as REPO_TEMPLATE

# TESTGENIE_E2E_TEMPLATE: run the stack tests against another template.
TEMPLATE = Path(os.environ.get("TESTGENIE_E2E_TEMPLATE", REPO_TEMPLATE))
START_TIMEOUT = 180.0
TERMINAL = {str(status) for status in TERMINAL_STATUSES}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningStack:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    database_url: str | None
    info: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - a local http URL
            f"{self.url}/api/v1{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json", **(headers or {})}
            if data is not None
            else headers or {},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                return Answer(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())

    def get(self, path: str) -> Any:
        answer = self.call("GET", path)
        assert answer.status == 200, (path, answer.status, answer.body[:500])
        return answer.json()

    def queue(self, **body: Any) -> dict[str, Any]:
        answer = self.call("POST", "/suite-requests", body)
        assert answer.status == 201, answer.body[:500]
        request: dict[str, Any] = answer.json()
        return request

    def wait_status(self, request_id: str, statuses: set[str], timeout: float = 120.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            request: dict[str, Any] = self.get(f"/suite-requests/{request_id}")
            if request["status"] in statuses:
                return request
            assert self.process.poll() is None, f"the stack exited: {self.tail()}"
            return None

        found: dict[str, Any] = wait_for(check, timeout, f"request {request_id} to be {sorted(statuses)}")
        return found

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the stack's whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.stop(10.0)

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"the stack did not stop within {timeout:.0f}s: {self.tail()}") from None


def run_cli(*args: str, timeout: float = 180, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`testgenie …` as a user types it (without TESTGENIE_API_URL from the test's environment), in
    `cwd` (where the CLI looks for a running stack's .testgenie-data/stack.json)."""
    env = {k: v for k, v in os.environ.items() if k != "TESTGENIE_API_URL"}
    return subprocess.run(
        [sys.executable, "-m", "testgenie_local.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        cwd=cwd,
    )


def stack_env(database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "AWS_ENDPOINT"))}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update({"PYTHONUNBUFFERED": "1", "TESTGENIE_SCHEDULE_SECONDS": "reap=1", **extra})
    return env


def start_stack(
    workdir: Path,
    scenarios: Path | str,
    database_url: str | None,
    *,
    data_dir: Path | None = None,
    own_group: bool = False,
    template: Path | None = None,
    args: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    **extra_env: str,
) -> RunningStack:
    """`own_group`: the stack leads its own process group, as a command typed in a terminal does;
    `template`: another template than TEMPLATE; `args`: more options of `testgenie serve`."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / f"ready-{time.monotonic_ns()}.json"
    data = data_dir or workdir / "data"
    log = workdir / f"serve-{time.monotonic_ns()}.log"
    command = [
        sys.executable,
        "-m",
        "testgenie_local.cli",
        "serve",
        "--port",
        "0",
        "--template",
        str(template or TEMPLATE),
        "--scenarios",
        str(scenarios),
        "--data-dir",
        str(data),
        "--ready-file",
        str(ready),
        "--verbose",
        *args,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=stack_env(database_url, **{**(env or {}), **extra_env}),
            stdout=sink,
            stderr=subprocess.STDOUT,
            process_group=0 if own_group else None,
        )
    stack = RunningStack(url="", process=process, data_dir=data, log=log, database_url=database_url)

    def ready_or_dead() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"`testgenie serve` exited with {process.returncode}:\n{stack.tail()}")
        return ready.is_file() and ready.stat().st_size > 0

    wait_for(ready_or_dead, START_TIMEOUT, "`testgenie serve` to be ready")
    stack.info = json.loads(ready.read_text())
    stack.url = stack.info["api_url"]
    return stack
