"""The Lambda durable service on one machine: the SDK's own local runner behind the stack's Lambda endpoint.

`aws-durable-execution-sdk-python-testing` brings a web runner that is what the durable service is on
AWS: it keeps every execution's checkpoints (here a filesystem store under the data dir), invokes the
durable function's handler for each replay, and dispatches its chained invokes (the runner) to a
Lambda endpoint. This module runs it on 127.0.0.1 and adds what Lambda's own API does around it:

- starting an execution by name (`Invoke` with `DurableExecutionName`), once per name: a second start
  of a name is refused with `DurableExecutionAlreadyStartedException`, as on AWS, even after a restart
  (the names are kept beside the store);
- the durable-execution API (`/2025-12-01/…`: checkpoint, state, get, stop) forwarded to the runner;
- after a restart, the executions the last stack left unfinished: the runner cannot resume them (its
  scheduler lives in memory), so they are stopped and reported for the stack to fail ("interrupted").

docs/local-stack.md describes it; the stack's Lambda endpoint (lambda_endpoint.py) fronts it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

log = logging.getLogger("testgenie.local")
_API_PREFIX = "/2025-12-01/"
_RETENTION_DAYS = 1
_ACCOUNT = "123456789012"
_LIST_BY_FUNCTION_RE = re.compile(r"^/2025-12-01/functions/([^/]+)/durable-executions$")
# What an execution's summary in ListDurableExecutionsByFunction holds (the rest of a Get is not).
_SUMMARY_KEYS = ("DurableExecutionArn", "DurableExecutionName", "Status", "StartTimestamp")


class DurableExecutionAlreadyStarted(Exception):
    """A start of a name that already has an execution (the answer names the existing one)."""

    def __init__(self, name: str, arn: str) -> None:
        super().__init__(f"a durable execution named {name} has already been started: {arn}")
        self.arn = arn


@dataclass(frozen=True)
class DurableFunction:
    """A durable function of the template: its name and DurableConfig.ExecutionTimeout."""

    name: str
    execution_timeout: int


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _enough_dispatch_threads() -> None:
    """The SDK's runner dispatches chained invokes on pools of cpu + 4 threads (6 on 2 cores): fewer
    than a sharded phase's shards, whose invokes would then run in waves. On AWS only the function's
    concurrency bounds them; here the runner's own bound (RUNNER_CONCURRENCY) does, so the pools get
    at least that many threads (docs/scenarios.md, "Shards")."""
    from aws_durable_execution_sdk_python_testing import threads

    from testgenie_local.runner_limits import runner_concurrency

    sdk_default = threads.default_max_workers
    if getattr(sdk_default, "testgenie", False):
        return
    wanted = runner_concurrency() + 4

    def enough() -> int:
        return max(sdk_default(), wanted)

    enough.testgenie = True  # type: ignore[attr-defined]
    threads.default_max_workers = enough


class LocalDurableService:
    def __init__(
        self,
        data_dir: Path,
        *,
        lambda_endpoint: str,
        durable: list[DurableFunction],
        plain: list[str],
        invocation_timeout: int,
        region: str,
        host: str = "127.0.0.1",
    ) -> None:
        self.data_dir = data_dir
        self.lambda_endpoint = lambda_endpoint
        self.durable = {fn.name: fn for fn in durable}
        self.plain = plain
        self.invocation_timeout = invocation_timeout
        self.region = region
        self.host = host
        self.port = 0
        self._runner: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._names_file = data_dir / "names.json"
        self._names: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from aws_durable_execution_sdk_python_testing.child_dispatcher import FunctionConfigs
        from aws_durable_execution_sdk_python_testing.runner import WebRunner, WebRunnerConfig
        from aws_durable_execution_sdk_python_testing.stores.base import StoreType
        from aws_durable_execution_sdk_python_testing.web.server import WebServiceConfig

        # Its web server logs every request at INFO (a checkpoint is a request): warnings only.
        for name in ("aws_durable_execution_sdk_python_testing", "aws_durable_execution_sdk_python"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._names_file.is_file():
            self._names = json.loads(self._names_file.read_text())
        self.port = _free_port(self.host)
        configs: dict[str, Any] = {name: {} for name in self.plain}
        for fn in self.durable.values():
            configs[fn.name] = {"DurableConfig": {"ExecutionTimeout": fn.execution_timeout}}
        config = WebRunnerConfig(
            web_service=WebServiceConfig(host=self.host, port=self.port, log_level=logging.WARNING),
            lambda_endpoint=self.lambda_endpoint,
            local_runner_endpoint=self.url,
            local_runner_region=self.region,
            store_type=StoreType.FILESYSTEM,
            store_path=str(self.data_dir / "executions"),
            invocation_timeout_seconds=self.invocation_timeout,
            function_configs=FunctionConfigs.from_dict(configs),
        )
        _enough_dispatch_threads()
        self._runner = WebRunner(config)
        self._runner.start()
        self._thread = threading.Thread(
            target=self._runner.serve_forever, name="durable-service", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        server = getattr(runner, "_server", None)  # the WebRunner offers no way to end serve_forever
        if server is not None:
            server.shutdown()
        runner.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- Lambda's API around the runner -----------------------------------------------------------

    def serves(self, function: str) -> bool:
        return function in self.durable

    def start_execution(self, function: str, name: str | None, payload: bytes) -> str:
        """Start `function` as a durable execution named `name` (a fresh name when None); its ARN.
        DurableExecutionAlreadyStarted when the name was started before."""
        spec = self.durable[function]
        name = name or str(uuid.uuid4())
        with self._lock:  # one start per name, however many deliveries race for it
            existing = self._names.get(name)
            if existing is not None:
                raise DurableExecutionAlreadyStarted(name, existing)
            body = {
                "AccountId": _ACCOUNT,
                "FunctionName": function,
                "FunctionQualifier": "$LATEST",
                "ExecutionName": name,
                "ExecutionTimeoutSeconds": spec.execution_timeout,
                "ExecutionRetentionPeriodDays": _RETENTION_DAYS,
                "Input": payload.decode() or "{}",
            }
            status, _, answer = self.forward("POST", "/start-durable-execution", json.dumps(body).encode())
            if status >= 300:
                raise RuntimeError(f"the durable service refused the start ({status}): {answer[:300]!r}")
            arn = str(json.loads(answer)["ExecutionArn"])
            self._names[name] = arn
            self._save_names()
        return arn

    def _save_names(self) -> None:
        tmp = self._names_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._names))
        os.replace(tmp, self._names_file)

    def name_of(self, arn: str) -> str | None:
        with self._lock:
            return next((name for name, known in self._names.items() if known == arn), None)

    def forward(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to the runner's own API, answered as it answered (a list by name excepted)."""
        if method == "GET":
            by_name = self._list_by_name(path)
            if by_name is not None:
                return by_name
        return self._send(method, path, body, headers)

    def _list_by_name(self, path: str) -> tuple[int, dict[str, str], bytes] | None:
        """ListDurableExecutionsByFunction for one DurableExecutionName (what a duplicate start asks):
        the runner's store answers it by reading every execution it holds, ~1.4 ms each, so on every
        run a stack got slower the more it had run; the name's execution is known here (the names
        beside the store), so one Get answers it. None: any other query, for the runner to answer."""
        split = urlsplit(path)
        found = _LIST_BY_FUNCTION_RE.match(split.path)
        query = parse_qs(split.query)
        if found is None or set(query) != {"DurableExecutionName"} or len(query["DurableExecutionName"]) != 1:
            return None
        function = unquote(found.group(1))
        with self._lock:
            arn = self._names.get(query["DurableExecutionName"][0])
        summaries: list[dict[str, Any]] = []
        if arn is not None:
            code, headers, body = self._send("GET", f"{_API_PREFIX}durable-executions/{quote(arn, safe='')}")
            if code != 200:
                return code, headers, body
            got = json.loads(body)
            if str(got.get("FunctionArn", "")).split(":")[6:7] == [function]:
                summary = {key: got[key] for key in _SUMMARY_KEYS}
                summary.update({k: got[k] for k in ("FunctionArn", "EndTimestamp") if got.get(k) is not None})
                summaries.append(summary)
        answer = json.dumps({"DurableExecutions": summaries}).encode()
        return 200, {"content-type": "application/json"}, answer

    def _send(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            sent = {"content-type": (headers or {}).get("content-type", "application/json")}
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def status(self, arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, STOPPED, TIMED_OUT (None: unknown to the runner)."""
        code, _, body = self.forward("GET", f"{_API_PREFIX}durable-executions/{quote(arn, safe='')}")
        if code != 200:
            return None
        return str(json.loads(body).get("Status"))

    def stop_execution(self, arn: str, message: str) -> None:
        error = json.dumps({"ErrorMessage": message, "ErrorType": "Stopped"}).encode()
        self.forward("POST", f"{_API_PREFIX}durable-executions/{quote(arn, safe='')}/stop", error)

    def interrupted(self, message: str) -> list[str]:
        """The names of executions a previous stack left running, each stopped now with `message`."""
        with self._lock:
            known = dict(self._names)
        left: list[str] = []
        for name, arn in known.items():
            if self.status(arn) == "RUNNING":
                with contextlib.suppress(OSError):
                    self.stop_execution(arn, message)
                left.append(name)
        return left
