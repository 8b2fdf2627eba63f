"""Lambda's Invoke API on 127.0.0.1, for the functions the stack runs as separate processes.

The coordinator calls `lambda:Invoke` with boto3 exactly as on AWS; the stack points it here with
AWS_ENDPOINT_URL_LAMBDA (moto's Lambda needs Docker). `POST /2015-03-31/functions/<name>/invocations`
answers as Lambda does: 200 with the payload, plus `X-Amz-Function-Error: Unhandled` when the
function raised, crashed or ran out of its Timeout. A function with `TenancyConfig: PER_TENANT` needs
the invoke's TenantId (`X-Amz-Tenant-Id`), and an environment serves one tenant only.

The same server takes the runner's phase logs: `PUT /_artifacts/<key>?expires=&signature=` writes
into ARTIFACTS_DIR when the HMAC signature (testgenie.artifacts.upload_signature) holds, which is
what a pre-signed S3 PUT is on AWS: this one key, until it expires.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from testgenie.artifacts import upload_allowed

from testgenie_local.background_server import BackgroundServer

_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_KEY_RE = re.compile(r"^executions/[0-9a-f-]{36}/[a-z0-9][a-z0-9_-]*(\.shard-[0-9]{1,4})?\.log$")
UPLOAD_PREFIX = "/_artifacts/"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class Invocable(Protocol):
    per_tenant: bool

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    functions: Mapping[str, Invocable]
    artifacts_dir: Path | None
    upload_secret: str


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

    def do_POST(self) -> None:
        found = _INVOKE_RE.match(urlsplit(self.path).path)
        if not found:
            self._error(404, "UnknownOperationException", f"no such operation: POST {self.path}")
            return
        name = _function_name(found.group(1))
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
        server.functions = functions
        server.artifacts_dir = artifacts_dir
        server.upload_secret = upload_secret
        super().__init__(server)

    @property
    def upload_url(self) -> str:
        return self.url + UPLOAD_PREFIX.rstrip("/")
