"""An HTTP server on 127.0.0.1 that behaves like an API Gateway HTTP API (payload format 2.0).

Each request is matched against the template's HttpApi routes, turned into the same event API
Gateway would send (routeKey, rawPath, rawQueryString, queryStringParameters, pathParameters,
lower-cased headers, body + isBase64Encoded, requestContext with an IAM authorizer), handed to the
function in-process, and the function's answer is mapped back to HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from testgenie_local.runtime import FunctionRuntime
from testgenie_local.template import HttpRoute

API_ID = "local"
ACCOUNT = "123456789012"
_PARAM_RE = re.compile(r"^\{([^{}+]+)(\+?)\}$")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    runtime: FunctionRuntime
    segments: tuple[str, ...]

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        if self.path == "$default":
            return {}
        parts = _split(path)
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            found = _PARAM_RE.match(segment)
            if found and found.group(2):  # {proxy+}: the rest of the path, at least one segment
                rest = parts[index:]
                if not rest:
                    return None
                params[found.group(1)] = unquote("/".join(rest))
                return params
            if index >= len(parts):
                return None
            if found:
                if not parts[index]:
                    return None
                params[found.group(1)] = unquote(parts[index])
            elif segment != unquote(parts[index]):
                return None
        return params if len(parts) == len(self.segments) else None


def _split(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


class Router:
    def __init__(self, routes: Sequence[tuple[HttpRoute, FunctionRuntime]]) -> None:
        built = [Route(r.method, r.path, runtime, tuple(_split(r.path))) for r, runtime in routes]
        # The most specific route first, the way API Gateway picks among overlapping routes.
        self.routes = sorted(built, key=_specificity)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None


def _specificity(route: Route) -> tuple[Any, ...]:
    if route.path == "$default":
        return (1, ())
    ranks = []
    for segment in route.segments:
        found = _PARAM_RE.match(segment)
        ranks.append(2 if found and found.group(2) else 1 if found else 0)
    # Compare position by position (a literal wins at the first difference); then ANY after a verb.
    return (0, (*ranks, 3), route.method == "ANY")


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
    stamp = time.time() if now is None else now
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    content_type = lowered.get("content-type", "")
    encoded, text = _encode_body(body, content_type)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
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
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": route.route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(stamp, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(stamp * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = dict(path_params)
    if body:
        event["body"] = text
    return event


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    router: Router
    log: Any


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        raw_path = split.path or "/"
        method = self.command.upper()
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(_gateway_error(413, "Request Entity Too Large"))
            return
        body = self.rfile.read(length) if length else b""
        found = self.server.router.find(method, raw_path)
        if found is None:
            self._send(_gateway_error(404, "Not Found"))
            return
        route, params = found
        host = self.headers.get("host", f"127.0.0.1:{self.server.server_address[1]}")
        event = build_event(
            route=route,
            path_params=params,
            method=method,
            raw_path=raw_path,
            raw_query=split.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            domain=host.split(":", 1)[0],
        )
        try:
            result = route.runtime.invoke(event)
            answer = map_response(result)
        except Exception:
            self.server.log(f"{route.runtime.name} raised on {route.route_key}", exc_info=True)
            answer = _gateway_error(500, "Internal Server Error")
        self._send(answer)
        elapsed = int((time.monotonic() - started) * 1000)
        self.server.log(f"{method} {self.path} -> {answer.status} ({route.runtime.name}, {elapsed} ms)")

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


class Gateway:
    """The HTTP API on 127.0.0.1:`port` (0 picks a free port), served from a background thread."""

    def __init__(
        self,
        routes: Sequence[tuple[HttpRoute, FunctionRuntime]],
        host: str = "127.0.0.1",
        port: int = 0,
        log: Any = None,
    ) -> None:
        self._server = _Server((host, port), _RequestHandler)
        self._server.router = Router(routes)
        self._server.log = log or (lambda *a, **k: None)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
