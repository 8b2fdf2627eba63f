"""The part every phase shares: run the configured commands, then read the JUnit XML they wrote."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from testgenie.orchestrator.models import Classification, Observation
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport, TestCase
from testgenie.orchestrator.phases.junit import JUnitError, count_tests, failing_tests, parse_junit
from testgenie.orchestrator.phases.process import Command, classify_failure, run_in_phase

MAX_FAILED_TEST_OBSERVATIONS = 20


def run_commands(ctx: PhaseContext, report: PhaseReport, commands: Iterable[Command]) -> None:
    """Each command is a check; all run (no early stop) so the log shows every problem at once."""
    for command in commands:
        result = run_in_phase(ctx, command)
        if result.ok:
            report.ok(f"`{result.display}` passed ({result.duration_ms} ms)")
        else:
            failure = classify_failure(result)
            report.fail(failure.message, failure.classification, failure.remediation)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def junit_files(ctx: PhaseContext) -> list[Path]:
    files = sorted(p for p in ctx.reports_dir.rglob("*.xml") if p.is_file())
    for pattern in ctx.config.junit:
        for path in sorted(ctx.scenario_dir.glob(pattern)):
            # A glob such as ../../x.xml must not read outside the run's copy.
            if path.is_file() and _inside(path, ctx.scenario_dir) and path not in files:
                files.append(path)
    return files


def collect_tests(ctx: PhaseContext, report: PhaseReport) -> list[TestCase]:
    """Parse the phase's JUnit reports into report.tests and the run's test list."""
    cases: list[TestCase] = []
    for path in junit_files(ctx):
        try:
            cases.extend(parse_junit(path, ctx.name))
        except JUnitError as exc:
            report.fail(
                f"unreadable JUnit report {exc}",
                Classification.MISCONFIGURATION,
                "Make the test command write valid JUnit XML (or remove the path from `junit`).",
            )
    if not cases:
        return cases
    counts = count_tests(cases)
    report.tests = counts
    report.failing_tests = failing_tests(cases)
    ctx.run.test_cases.extend(cases)
    ctx.log.line(
        f"[test-genie] tests: {counts.total} total, {counts.passed} passed, {counts.failed} failed, "
        f"{counts.errored} errored, {counts.skipped} skipped"
    )
    broken = [case for case in cases if case.status in {"failed", "errored"}]
    for case in broken[:MAX_FAILED_TEST_OBSERVATIONS]:
        report.observations.append(_failed_test_observation(case))
    if len(broken) > MAX_FAILED_TEST_OBSERVATIONS:
        report.warn(f"{len(broken) - MAX_FAILED_TEST_OBSERVATIONS} more failing tests are in the log")
    if broken:
        for case in broken:
            ctx.log.line(f"[test-genie] {case.status}: {case.full_name}: {case.message}")
        names = ", ".join(case.full_name for case in broken[:3])
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        # Replaces the bare "exited with 1" of the test command with the names that matter.
        report.failures = [f for f in report.failures if f.classification != Classification.TEST_FAILURE]
        report.fail(
            f"{len(broken)} of {counts.total} tests failed: {names}{more}",
            Classification.TEST_FAILURE,
            "Fix the failing tests listed in the phase log.",
        )
    else:
        report.ok(f"{counts.passed} of {counts.total} tests passed ({counts.skipped} skipped)")
    return cases


def _failed_test_observation(case: TestCase) -> Observation:
    text = f"{case.status}: {case.full_name}" + (f" — {case.message.splitlines()[0]}" if case.message else "")
    return Observation(icon="❌", prefix="ERROR", section="tests", text=text[:300])


def run_commands_and_tests(ctx: PhaseContext, report: PhaseReport, extra: Iterable[Command] = ()) -> None:
    run_commands(ctx, report, [*extra, *ctx.config.commands])
    collect_tests(ctx, report)
