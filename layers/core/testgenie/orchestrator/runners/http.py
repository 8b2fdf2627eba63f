"""HTTP checks shared by smoke, dependencies, integration, playbooks and performance (stdlib only)."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.runners.base import Failure, PhaseContext, PhaseReport, PhaseTimeout
from testgenie.orchestrator.testing_config import HttpCheck

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


# No proxies from the service's environment: checks talk to the scenario's own endpoints.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
) -> HttpResponse:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310
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
