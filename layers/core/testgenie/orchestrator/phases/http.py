"""HTTP checks shared by smoke, dependencies, integration, playbooks and performance (stdlib only).

A request's timeout bounds the WHOLE request (connect, send, headers, body), not each socket read:
urllib's timeout is per read, so a server sending one byte a second would never time out and a phase
would overrun its deadline (and in Lambda, the final-write margin). docs/scenarios.md.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import Failure, PhaseContext, PhaseReport, PhaseTimeout
from testgenie.orchestrator.planning.testing_config import HttpCheck

MAX_BODY_BYTES = 1024 * 1024
# One request never waits longer than this, even in a long phase.
MAX_REQUEST_SECONDS = 60.0
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigProblem(Exception):
    """A check that cannot even be attempted (bad URL, unknown variable): misconfiguration."""


class Unreachable(Exception):
    """No HTTP answer at all (refused, DNS, timeout)."""


@dataclass
class HttpResponse:
    status: int
    body: bytes
    elapsed_ms: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def expand(text: str, variables: Mapping[str, str]) -> str:
    """`${NAME}` -> variables[NAME]; an unknown name is a configuration problem, not an empty string."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise ConfigProblem(f"${{{name}}} is not set (define it in env of .testgenie/testing.json)")
        return variables[name]

    return _VAR_RE.sub(replace, text)


def resolve_url(url: str, base_url: str | None, variables: Mapping[str, str]) -> str:
    resolved = expand(url, variables)
    if not urllib.parse.urlsplit(resolved).scheme:
        if not base_url:
            raise ConfigProblem(f"'{url}' is relative but no baseUrl is configured")
        resolved = urllib.parse.urljoin(expand(base_url, variables).rstrip("/") + "/", resolved.lstrip("/"))
    if urllib.parse.urlsplit(resolved).scheme not in {"http", "https"}:
        raise ConfigProblem(f"'{resolved}' is not an http(s) URL")
    return resolved


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Expectations are about the answer of the URL asked, so a 302 is reported as a 302."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class DeadlineSocket:
    """A connected socket whose every read and write waits only until one deadline (time.monotonic()).

    http.client reads through `makefile("rb")`, so the file is built on this object: each recv sets
    the socket's timeout to the time left; a timeout that fires early (clock rounding) is retried.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._io_refs = 0
        self._closed = False

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self._sock.settimeout(left)

    def recv_into(self, buffer: memoryview | bytearray, nbytes: int = 0, flags: int = 0) -> int:
        while True:
            self._arm()
            try:
                return self._sock.recv_into(buffer, nbytes, flags)
            except TimeoutError:
                continue  # _arm raises once the deadline has really passed

    def sendall(self, data: bytes | memoryview, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: object) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError("only binary reads are supported")
        self._io_refs += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"), buffering or io.DEFAULT_BUFFER_SIZE)  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self) -> None:
        # Like socket.socket: the real close waits for the response's file to be closed.
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


class _DeadlineConnection(http.client.HTTPConnection):
    deadline = 0.0  # set per request by _open_bounded

    def connect(self) -> None:
        super().connect()
        self.sock = DeadlineSocket(self.sock, self.deadline)


class _DeadlineHttpsConnection(http.client.HTTPSConnection):
    deadline = 0.0

    def connect(self) -> None:
        super().connect()  # TCP connect and TLS handshake, each bounded by the request's timeout
        self.sock = DeadlineSocket(self.sock, self.deadline)


class _DeadlineRequest(urllib.request.Request):
    deadline = 0.0


def _open_bounded(
    handler: urllib.request.AbstractHTTPHandler,
    connection_class: type[_DeadlineConnection | _DeadlineHttpsConnection],
    req: urllib.request.Request,
) -> http.client.HTTPResponse:
    deadline = req.deadline if isinstance(req, _DeadlineRequest) else time.monotonic() + MAX_REQUEST_SECONDS

    def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = connection_class(host, **kwargs)
        conn.deadline = deadline
        return conn

    return handler.do_open(connection, req)


class _DeadlineHttpHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return _open_bounded(self, _DeadlineConnection, req)


class _DeadlineHttpsHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return _open_bounded(self, _DeadlineHttpsConnection, req)  # default TLS context: verified


# No proxies from the service's environment: checks talk to the scenario's own endpoints.
_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirect(), _DeadlineHttpHandler(), _DeadlineHttpsHandler()
)


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
) -> HttpResponse:
    """One request; `timeout` (seconds) bounds the whole of it, from connect to the last body byte."""
    request = _DeadlineRequest(url, data=body, method=method, headers=dict(headers or {}))
    request.deadline = time.monotonic() + timeout
    started = time.perf_counter()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            data = response.read(MAX_BODY_BYTES)
            status = int(response.status)
    except urllib.error.HTTPError as exc:  # a 4xx/5xx is still an answer
        data = exc.read(MAX_BODY_BYTES) if exc.fp is not None else b""
        status = exc.code
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise Unreachable(f"{method} {url}: {reason}") from None
    return HttpResponse(status, data, (time.perf_counter() - started) * 1000)


def request_timeout(ctx: PhaseContext) -> float:
    return min(ctx.check_deadline(), MAX_REQUEST_SECONDS)


def check_http(ctx: PhaseContext, check: HttpCheck, *, unreachable: Classification) -> Failure | str:
    """Run one check; return a Failure, or a success text. Raises PhaseTimeout at the phase deadline."""
    label = check.name or f"{check.method} {check.url}"
    try:
        url = resolve_url(check.url, ctx.testing.base_url, ctx.env)
        headers = {k: expand(v, ctx.env) for k, v in check.headers.items()}
        body = expand(check.body, ctx.env).encode() if check.body is not None else None
    except ConfigProblem as exc:
        return Failure(f"{label}: {exc}", Classification.MISCONFIGURATION, "Fix the check in testing.json.")
    timeout = request_timeout(ctx)
    try:
        response = http_request(check.method, url, headers=headers, body=body, timeout=timeout)
    except Unreachable as exc:
        if ctx.remaining() <= 0:
            raise PhaseTimeout(str(exc)) from None
        ctx.log.line(f"[http] {exc}")
        return Failure(f"{label}: no answer ({exc})", unreachable, f"Start the service behind {url}.")
    ctx.log.line(f"[http] {check.method} {url} -> {response.status} in {response.elapsed_ms:.0f} ms")
    problems = expectation_problems(response, check.status, check.body_contains, check.max_ms)
    if problems:
        ctx.log.line(f"[http] body: {response.text[:2000]}")
        return Failure(
            f"{label}: " + "; ".join(problems),
            Classification.TEST_FAILURE,
            "Compare the service's answer in the phase log with the check's expectations.",
        )
    return f"{label}: {response.status} in {response.elapsed_ms:.0f} ms"


def expectation_problems(
    response: HttpResponse, status: int | None, body_contains: str | None, max_ms: int | None
) -> list[str]:
    problems = []
    if status is not None and response.status != status:
        problems.append(f"status {response.status}, expected {status}")
    if body_contains is not None and body_contains not in response.text:
        problems.append(f"body does not contain {body_contains!r}")
    if max_ms is not None and response.elapsed_ms > max_ms:
        problems.append(f"took {response.elapsed_ms:.0f} ms, budget {max_ms} ms")
    return problems


def run_http_checks(
    ctx: PhaseContext,
    report: PhaseReport,
    checks: list[HttpCheck],
    *,
    unreachable: Classification = Classification.MISSING_DEPENDENCY,
) -> None:
    for check in checks:
        outcome = check_http(ctx, check, unreachable=unreachable)
        if isinstance(outcome, Failure):
            report.fail(outcome.message, outcome.classification, outcome.remediation)
        else:
            report.ok(outcome)
