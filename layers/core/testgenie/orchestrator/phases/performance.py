"""performance: HTTP load probes {url, requests, concurrency, p95Ms} and performance commands."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport, PhaseTimeout
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.http import (
    MAX_REQUEST_SECONDS,
    ConfigProblem,
    HttpResponse,
    Unreachable,
    expand,
    http_request,
    resolve_url,
)
from testgenie.orchestrator.planning.testing_config import PerformanceConfig, Probe


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def run_probe(ctx: PhaseContext, probe: Probe, report: PhaseReport) -> None:
    label = probe.name or f"{probe.method} {probe.url}"
    try:
        url = resolve_url(probe.url, ctx.testing.base_url, ctx.env)
        headers = {k: expand(v, ctx.env) for k, v in probe.headers.items()}
    except ConfigProblem as exc:
        report.fail(f"{label}: {exc}", Classification.MISCONFIGURATION, "Fix the probe in testing.json.")
        return

    def one(_: int) -> HttpResponse | str:
        # The time left when THIS request starts: a later request must not get the phase's whole budget.
        timeout = min(ctx.remaining(), MAX_REQUEST_SECONDS)
        if timeout <= 0:
            return "phase deadline reached"
        try:
            return http_request(probe.method, url, headers=headers, timeout=timeout)
        except Unreachable as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=probe.concurrency) as pool:
        outcomes = list(pool.map(one, range(probe.requests)))
    ctx.check_deadline()
    latencies = [o.elapsed_ms for o in outcomes if isinstance(o, HttpResponse)]
    errors = [o for o in outcomes if isinstance(o, str)]
    wrong = [o.status for o in outcomes if isinstance(o, HttpResponse) and o.status != probe.status]
    p95 = percentile(latencies, 0.95) if latencies else math.inf
    summary = (
        f"{label}: {probe.requests} requests x{probe.concurrency}, p95 {p95:.0f} ms (budget {probe.p95_ms} ms), "
        f"{len(errors)} without answer, {len(wrong)} with an unexpected status"
    )
    ctx.log.line(f"[performance] {summary}")
    for error in errors[:5]:
        ctx.log.line(f"[performance] {error}")
    if errors and not latencies:
        report.fail(f"{label}: no answer ({errors[0]})", Classification.MISSING_DEPENDENCY, f"Start {url}.")
    elif errors or wrong or p95 > probe.p95_ms:
        report.fail(
            summary, Classification.TEST_FAILURE, "Profile the endpoint or revisit its latency budget."
        )
    else:
        report.ok(summary)


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no performance probes or commands configured (phases.performance)"
    if isinstance(ctx.config, PerformanceConfig):
        for probe in ctx.config.probes:
            if ctx.remaining() <= 0:
                raise PhaseTimeout("performance probes ran out of time")
            run_probe(ctx, probe, report)
    run_commands_and_tests(ctx, report)
