"""Lambda's Invoke API on 127.0.0.1, for the functions the stack runs as separate processes.

The coordinator calls `lambda:Invoke` with boto3 exactly as on AWS; the stack points it here with
AWS_ENDPOINT_URL_LAMBDA (moto's Lambda needs Docker). `POST /2015-03-31/functions/<name>/invocations`
answers as Lambda does: 200 with the payload, plus `X-Amz-Function-Error: Unhandled` when the
function raised, crashed or ran out of its Timeout. A function with `TenancyConfig: PER_TENANT` needs
the invoke's TenantId (`X-Amz-Tenant-Id`), and an environment serves one tenant only. With a durable
service attached (durable_host.py), it also starts durable executions by name and serves Lambda's
durable-execution API, as on AWS.

The same server takes the runner's phase logs: `PUT /_artifacts/<key>?expires=&signature=` writes
into ARTIFACTS_DIR when the HMAC signature (testgenie_local/uploads.py) holds, which is
what a pre-signed S3 PUT is on AWS: this one key, until it expires.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from testgenie_local.background_server import BackgroundServer
from testgenie_local.uploads import upload_allowed

_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
DURABLE_API_PREFIX = "/2025-12-01/"
_STOP_RE = re.compile(r"^/2025-12-01/durable-executions/(.+)/stop$")
DURABLE_NAME_HEADER = "X-Amz-Durable-Execution-Name"
# What the durable service sends with each handler invocation (the SDK's local runner): such an
# Invoke runs the handler; a client's Invoke of a durable function starts an execution instead.
HANDLER_INVOKE_HEADER = "X-Dex-Handler-Invoke"
_KEY_RE = re.compile(r"^executions/[0-9a-f-]{36}/[a-z0-9][a-z0-9_-]*(\.shard-[0-9]{1,4})?\.log$")
UPLOAD_PREFIX = "/_artifacts/"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class Invocable(Protocol):
    per_tenant: bool

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]: ...


class DurableService(Protocol):
    """The local durable service (durable_host.LocalDurableService) as the endpoint uses it."""

    def serves(self, function: str) -> bool: ...

    def start_execution(self, function: str, name: str | None, payload: bytes) -> str: ...

    def forward(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A burst of deliveries starts its executions at once: Lambda refuses none of them for a full
    # listen queue (socketserver's default is 5).
    request_queue_size = 128
    functions: Mapping[str, Invocable]
    artifacts_dir: Path | None
    upload_secret: str
    durable: DurableService | None
    on_stopped: Callable[[str], None] | None


def _function_name(raw: str) -> str:
    """Lambda accepts a name, a partial or a full ARN (optionally with a qualifier)."""
    name = unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else name
    return name.split(":", 1)[0]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the answer's headers and body are two writes; with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms on Linux) on a kept-alive connection (docs/performance.md).
    disable_nagle_algorithm = True

    def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, kind: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._answer(status, body, {"x-amzn-ErrorType": kind})

    def _body(self, limit: int) -> bytes | None:
        length = int(self.headers.get("content-length") or 0)
        if length > limit:
            self._error(413, "RequestTooLargeException", f"request body is larger than {limit} bytes")
            return None
        return self.rfile.read(length) if length else b""

    def _durable_api(self, method: str) -> bool:
        """Lambda's durable-execution API (checkpoint, state, get, stop): the durable service's."""
        durable = self.server.durable
        if durable is None or not urlsplit(self.path).path.startswith(DURABLE_API_PREFIX):
            return False
        body = self._body(MAX_PAYLOAD_BYTES) if method == "POST" else b""
        if body is None:
            return True
        status, headers, answer = durable.forward(method, self.path, body, dict(self.headers.items()))
        self._answer(status, answer, {k: v for k, v in headers.items() if k.startswith("x-amz")})
        stopped = _STOP_RE.match(urlsplit(self.path).path)
        if stopped and status < 300 and self.server.on_stopped is not None:
            self.server.on_stopped(unquote(stopped.group(1)))
        return True

    def _start_durable(self, durable: DurableService, name: str) -> None:
        """An Invoke of a durable function by a client: a new durable execution, once per name."""
        from testgenie_local.durable_host import DurableExecutionAlreadyStarted

        payload = self._body(MAX_PAYLOAD_BYTES)
        if payload is None:
            return
        try:
            arn = durable.start_execution(name, self.headers.get(DURABLE_NAME_HEADER), payload)
        except DurableExecutionAlreadyStarted as exc:
            self._error(409, "DurableExecutionAlreadyStartedException", str(exc))
            return
        self._answer(202, b"", {"X-Amz-Durable-Execution-Arn": arn, "X-Amz-Executed-Version": "$LATEST"})

    def do_GET(self) -> None:
        if not self._durable_api("GET"):
            self._error(404, "UnknownOperationException", f"no such operation: GET {self.path}")

    def do_POST(self) -> None:
        if self._durable_api("POST"):
            return
        found = _INVOKE_RE.match(urlsplit(self.path).path)
        if not found:
            self._error(404, "UnknownOperationException", f"no such operation: POST {self.path}")
            return
        name = _function_name(found.group(1))
        durable = self.server.durable
        if durable is not None and durable.serves(name) and not self.headers.get(HANDLER_INVOKE_HEADER):
            self._start_durable(durable, name)
            return
        function = self.server.functions.get(name)
        if function is None:
            self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
            return
        kind = self.headers.get("x-amz-invocation-type", "RequestResponse")
        if kind != "RequestResponse":
            self._error(
                400, "InvalidParameterValueException", f"only RequestResponse is served here, not {kind}"
            )
            return
        tenant = self.headers.get("x-amz-tenant-id") or None
        if getattr(function, "per_tenant", False) and tenant is None:
            # As Lambda answers a function with TenancyConfig PER_TENANT invoked without a TenantId.
            self._error(
                400, "InvalidParameterValueException", f"{name} is multi-tenant: the invoke needs a TenantId"
            )
            return
        payload = self._body(MAX_PAYLOAD_BYTES)
        if payload is None:
            return
        error, answer = function.invoke(payload, tenant)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if error:
            headers["X-Amz-Function-Error"] = error
        self._answer(200, answer, headers)

    def do_PUT(self) -> None:
        split = urlsplit(self.path)
        key = unquote(split.path[len(UPLOAD_PREFIX) :]) if split.path.startswith(UPLOAD_PREFIX) else ""
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        root = self.server.artifacts_dir
        allowed = upload_allowed(
            self.server.upload_secret, key, query.get("expires", ""), query.get("signature", "")
        )
        if root is None or not _KEY_RE.match(key) or not allowed:
            self._error(403, "AccessDenied", "the upload URL is not valid for this key (or it expired)")
            return
        data = self._body(MAX_UPLOAD_BYTES)
        if data is None:
            return
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{target.name}.{threading.get_ident()}.upload")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the service's alone
        with os.fdopen(fd, "wb") as sink:
            sink.write(data)
        os.replace(tmp, target)  # a reader never sees half a log
        self._answer(200, b"")

    def log_message(self, format: str, *args: Any) -> None:
        return


class LambdaEndpoint(BackgroundServer):
    """The Invoke API (and the runner's log uploads) on 127.0.0.1:`port`, from a background thread."""

    _thread_name = "lambda-endpoint"

    def __init__(
        self,
        functions: Mapping[str, Invocable],
        *,
        artifacts_dir: Path | None,
        upload_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        server = _Server((host, port), _Handler)
        server.functions = dict(functions)
        server.artifacts_dir = artifacts_dir
        server.upload_secret = upload_secret
        server.durable = None
        server.on_stopped = None
        self._http = server
        super().__init__(server)

    def serve_durable(
        self,
        durable: DurableService,
        handlers: Mapping[str, Invocable],
        on_stopped: Callable[[str], None] | None = None,
    ) -> None:
        """Front the durable service: its API, starts by name, and its handler invocations (the
        durable functions' `handlers`, invoked by the service itself). `on_stopped(arn)` follows a stop."""
        functions = dict(self._http.functions)
        functions.update(handlers)
        self._http.functions = functions
        self._http.on_stopped = on_stopped
        self._http.durable = durable

    @property
    def upload_url(self) -> str:
        return self.url + UPLOAD_PREFIX.rstrip("/")
