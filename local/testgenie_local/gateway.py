"""An HTTP server on 127.0.0.1 that behaves like an API Gateway HTTP API (payload format 2.0).

Each request is matched against the template's HttpApi routes, turned into the same event API
Gateway would send (routeKey, rawPath, rawQueryString, queryStringParameters, pathParameters,
lower-cased headers, body + isBase64Encoded, requestContext with an IAM authorizer), handed to the
function in-process, and the function's answer is mapped back to HTTP.
"""

from __future__ import annotations

import base64
import errno
import json
import re
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from wsgiref.types import WSGIApplication

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from testgenie_local.background_server import BackgroundServer
from testgenie_local.gateway_guard import (
    Refusal,
    check_content_type,
    check_host,
    check_origin,
    content_length,
)
from testgenie_local.runtime import FunctionRuntime
from testgenie_local.template import HttpRoute

API_ID = "local"
ACCOUNT = "123456789012"
_PARAM_RE = re.compile(r"^\{([^{}+]+)(\+?)\}$")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    path: str  # the template's path ("/api/v1/executions/{executionId}"), or "$default"
    runtime: FunctionRuntime

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


def werkzeug_rule(path: str) -> str:
    """An API Gateway path as a werkzeug rule: `{id}` is one segment, `{proxy+}` the rest."""
    parts = []
    for segment in path.split("/"):
        found = _PARAM_RE.match(segment)
        if found is None:
            parts.append(segment)
        else:
            parts.append(f"<{'path:' if found.group(2) else ''}{found.group(1)}>")
    return "/".join(parts)


class Router:
    """The template's HttpApi routes on a `werkzeug.routing.Map`.

    werkzeug ranks a literal segment above a parameter and a parameter above a greedy `{proxy+}`,
    which is how API Gateway picks among overlapping routes; `$default` takes what nothing else does.
    """

    def __init__(self, routes: Sequence[tuple[HttpRoute, FunctionRuntime]]) -> None:
        self.routes = [Route(r.method, r.path, runtime) for r, runtime in routes]
        self._default = next((r for r in self.routes if r.path == "$default"), None)
        rules = [
            Rule(
                werkzeug_rule(route.path),
                endpoint=index,
                methods=None if route.method == "ANY" else [route.method],
            )
            for index, route in enumerate(self.routes)
            if route.path != "$default"
        ]
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method` on the raw (still percent-encoded) `path`, and its parameters."""
        try:
            index, params = self._map.bind("localhost").match(path, method)
        except HTTPException:  # NotFound, MethodNotAllowed (API Gateway answers 404 for both)
            return (self._default, {}) if self._default is not None else None
        route = self.routes[index]
        if route.method not in ("ANY", method):  # werkzeug lets HEAD in on GET; API Gateway does not
            return (self._default, {}) if self._default is not None else None
        return route, {name: unquote(value) for name, value in params.items()}


# -- events ---------------------------------------------------------------------------------------


def build_event(
    *,
    route: Route,
    path_params: Mapping[str, str],
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    domain: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The API Gateway v2 (payload format 2.0) event for one request."""
    lowered, cookies = _fold_headers(headers)
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    encoded, text = _encode_body(body, lowered.get("content-type", ""))
    http = {
        "method": method,
        "path": raw_path,
        "protocol": "HTTP/1.1",
        "sourceIp": source_ip,
        "userAgent": lowered.get("user-agent", ""),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": _request_context(route, domain, http, time.time() if now is None else now),
        "isBase64Encoded": encoded,
    }
    optional = {"cookies": cookies, "queryStringParameters": query, "pathParameters": dict(path_params)}
    event.update({key: value for key, value in optional.items() if value})
    if body:
        event["body"] = text
    return event


def _fold_headers(headers: Sequence[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Lower-cased headers (repeats joined by commas, as API Gateway does) and the cookies apart."""
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    return lowered, cookies


def _request_context(route: Route, domain: str, http: dict[str, str], stamp: float) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "authorizer": {
            "iam": {
                "accessKey": "AKIALOCALSTACK000000",
                "accountId": ACCOUNT,
                "callerId": "AIDALOCALSTACK000000",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{ACCOUNT}:user/local",
                "userId": "AIDALOCALSTACK000000",
            }
        },
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": http,
        "requestId": uuid.uuid4().hex[:16] + "=",
        "routeKey": route.route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(stamp, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(stamp * 1000),
    }


def _encode_body(body: bytes, content_type: str) -> tuple[bool, str]:
    if not body:
        return False, ""
    texty = not content_type or content_type.lower().startswith(_TEXT_TYPES) or "+json" in content_type
    if texty:
        try:
            return False, body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return True, base64.b64encode(body).decode("ascii")


@dataclass
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def map_response(result: Any) -> HttpAnswer:
    """A payload 2.0 function answer -> HTTP (a plain value means 200 with that value as JSON)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpAnswer(200, [("content-type", "application/json")], body.encode())
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _gateway_error(502, "Internal Server Error")
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(key), str(v)) for v in values or [])
    headers.extend(("set-cookie", str(c)) for c in result.get("cookies") or [])
    raw = result.get("body")
    if raw is None:
        data = b""
    elif result.get("isBase64Encoded"):
        data = base64.b64decode(str(raw))
    else:
        data = str(raw).encode("utf-8")
    return HttpAnswer(status, headers, data)


def _gateway_error(status: int, message: str) -> HttpAnswer:
    return HttpAnswer(
        status, [("content-type", "application/json")], json.dumps({"message": message}).encode()
    )


# -- server ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRequest:
    """One HTTP request as read off the socket (path and query still percent-encoded)."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str


def _domain(host: str) -> str:
    """The Host header without its port (`[::1]:3000` -> `[::1]`)."""
    return host.rsplit(":", 1)[0] if host.rfind(":") > host.rfind("]") else host


class GatewayApp:
    """Answers one request: the API route's function, else the mounted WSGI app, else API Gateway's 404.

    `mount` is any WSGI application (a static-files app, a werkzeug `Map`-based app): it gets every
    request no template route matches, so pages can live at `/` while the API stays under `/api/v1`.
    """

    def __init__(self, router: Router, log: Any, mount: WSGIApplication | None = None) -> None:
        self.router = router
        self.log = log
        self.mount = mount

    def answer(self, request: IncomingRequest) -> tuple[HttpAnswer, str]:
        """The answer, and who gave it (for the request log)."""
        found = self.router.find(request.method, request.raw_path)
        if found is not None:
            return self._invoke(*found, request), found[0].runtime.name
        if self.mount is not None:
            return self._mounted(request), "mounted app"
        return _gateway_error(404, "Not Found"), "no route"

    def _invoke(self, route: Route, params: dict[str, str], request: IncomingRequest) -> HttpAnswer:
        event = build_event(
            route=route,
            path_params=params,
            method=request.method,
            raw_path=request.raw_path,
            raw_query=request.raw_query,
            headers=request.headers,
            body=request.body,
            source_ip=request.source_ip,
            domain=_domain(request.host),
        )
        try:
            return map_response(route.runtime.invoke(event))
        except Exception:
            self.log(f"{route.runtime.name} raised on {route.route_key}", exc_info=True)
            return _gateway_error(500, "Internal Server Error")

    def _mounted(self, request: IncomingRequest) -> HttpAnswer:
        assert self.mount is not None
        passed = [(k, v) for k, v in request.headers if k.lower() not in {"host", "content-length"}]
        try:
            environ = EnvironBuilder(
                path=unquote(request.raw_path),
                base_url=f"http://{request.host}",
                query_string=request.raw_query,
                method=request.method,
                headers=passed,
                data=request.body,
                environ_base={"REMOTE_ADDR": request.source_ip},
            ).get_environ()
        except ValueError:  # e.g. an encoded '?' in the path (werkzeug refuses it): no page is named so
            return _gateway_error(404, "Not Found")
        try:
            response = Response.from_app(self.mount, environ, buffered=True)
        except Exception:
            self.log(f"the mounted app raised on {request.method} {request.raw_path}", exc_info=True)
            return _gateway_error(500, "Internal Server Error")
        if response.status_code == 404:  # the API's own 404 shape, whoever was asked
            return _gateway_error(404, "Not Found")
        return HttpAnswer(response.status_code, response.headers.to_wsgi_list(), response.get_data())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: GatewayApp

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print a traceback to stderr; a dropped or stalled client is routine.
        self.app.log(f"a connection from {client_address[0]} ended abnormally", exc_info=True)


class _BadRequest(Exception):
    """The request is refused or cannot be read; answered with `refusal` and the connection closed."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Seconds a socket read may wait (Gateway's read_timeout): no stalled client holds a thread.
    timeout = 10.0
    # TCP_NODELAY: headers and body are separate writes; with Nagle a kept-alive client's delayed
    # ACK would hold the body back ~40 ms (docs/performance.md).
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            request = self._read()
        except _BadRequest as bad:
            self.close_connection = True  # what is left of the body must not be read as a request
            refusal = bad.refusal
            self._send(_gateway_error(refusal.status, refusal.message))
            self.server.app.log(f"{self.command} {self.path[:200]} -> {refusal.status} ({refusal.message})")
            return
        answer, by = self.server.app.answer(request)
        elapsed = int((time.monotonic() - started) * 1000)
        # Logged before the answer leaves: a client that stops the stack on it finds the line written.
        self.server.app.log(f"{request.method} {self.path} -> {answer.status} ({by}, {elapsed} ms)")
        self._send(answer)

    def _read(self) -> IncomingRequest:
        method = self.command.upper()
        port = int(self.server.server_address[1])
        length = content_length(self.headers, MAX_BODY_BYTES)
        refusal = (
            check_host(self.headers, port)
            or check_origin(method, self.headers, port)
            or (length if isinstance(length, Refusal) else check_content_type(method, self.headers, length))
        )
        if refusal is not None:
            raise _BadRequest(refusal)
        assert isinstance(length, int)
        split = urlsplit(self.path)
        return IncomingRequest(
            method=method,
            raw_path=split.path or "/",
            raw_query=split.query,
            headers=list(self.headers.items()),
            body=self._read_body(length),
            source_ip=self.client_address[0],
            host=str(self.headers.get("host")),
        )

    def _read_body(self, length: int) -> bytes:
        if not length:
            return b""
        try:
            body = self.rfile.read(length)
        except OSError:  # the read timeout: the client sent less than it declared, then stalled
            body = b""
        if len(body) < length:
            raise _BadRequest(
                Refusal(400, f"Bad Request: the body ended before its Content-Length ({length} bytes)")
            )
        return body

    def _send(self, answer: HttpAnswer) -> None:
        self.send_response(answer.status)
        names = {k.lower() for k, _ in answer.headers}
        for key, value in answer.headers:
            if key.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(key, value)
        if "content-type" not in names and answer.body:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer.body)))
        self.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, made-up ones) is routed too: API Gateway answers 404
        # when no route matches, never 501.
        if name.startswith("do_") and name[3:].isalpha():
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are logged once, in _handle


class PortInUse(OSError):
    """The gateway's port is taken; the message names it and, with a hint, the way out."""

    def __init__(self, host: str, port: int, hint: str = "") -> None:
        way_out = f"; {hint.format(other=port + 1)}" if hint else ""
        super().__init__(errno.EADDRINUSE, f"port {port} on {host} is already in use{way_out}")

    def __str__(self) -> str:
        return str(self.strerror)


def ensure_port_free(host: str, port: int, hint: str = "") -> None:
    """PortInUse when `port` is taken (checked before a slow start; 0 always is free)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port, hint) from None
            raise


class Gateway(BackgroundServer):
    """The HTTP API on 127.0.0.1:`port` (0 picks a free port), served from a background thread.

    `mount`: an optional WSGI app for every path no template route takes (see GatewayApp).
    """

    _thread_name = "gateway"

    def __init__(
        self,
        routes: Sequence[tuple[HttpRoute, FunctionRuntime]],
        host: str = "127.0.0.1",
        port: int = 0,
        log: Any = None,
        mount: WSGIApplication | None = None,
        busy_hint: str = "",
        read_timeout: float = 10.0,
    ) -> None:
        handler = type("_TimedHandler", (_RequestHandler,), {"timeout": read_timeout})
        try:
            server = _Server((host, port), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port, busy_hint) from None
            raise
        server.app = GatewayApp(Router(routes), log or (lambda *a, **k: None), mount)
        super().__init__(server)
