"""N shard answers -> one phase result, and the rule for retrying a shard (docs/scenarios.md, "Shards").

Pure functions: the coordinator gathers what each shard answered (ShardRun) and calls these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from testgenie.orchestrator.models import (
    MAX_FAILING_TESTS_PER_PHASE,
    Classification,
    FailingTest,
    Observation,
    Outcome,
    PhaseResult,
    PhaseStatus,
    ShardResult,
    ShardStatus,
    TestCounts,
)

# A shard whose runner crashed or gave no answer runs once more with the same tests; a shard that
# answered (failing tests included) is never run again.
MAX_SHARD_ATTEMPTS = 2
MAX_MERGED_OBSERVATIONS = 100
_SEVERITY = {ShardStatus.ERRORED: 0, ShardStatus.TIMEOUT: 1, ShardStatus.FAILED: 2}


@dataclass(frozen=True)
class ShardRun:
    """What one shard gave: an answer (`result`), or why not (`failure`, `timed_out`, `cancelled`)."""

    index: int
    assigned: int = 0  # tests handed to it (0: it selects its own part from TESTGENIE_SHARD_*)
    attempts: int = 1
    result: PhaseResult | None = None
    failure: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    log_path: str = ""
    duration_ms: int = 0

    @property
    def status(self) -> ShardStatus:
        if self.cancelled:
            return ShardStatus.CANCELLED
        if self.result is None:
            return ShardStatus.TIMEOUT if self.timed_out else ShardStatus.ERRORED
        return ShardStatus(self.result.status.value)


def needs_retry(run: ShardRun) -> bool:
    """Crashed or timed out (no answer) and not yet retried; failing tests are an answer."""
    return run.result is None and not run.cancelled and run.attempts < MAX_SHARD_ATTEMPTS


def shard_outcome(runs: Sequence[ShardRun]) -> Outcome | None:
    """What ends the run after this phase, as for an unsharded phase: a shard with no answer."""
    statuses = {run.status for run in runs}
    if ShardStatus.TIMEOUT in statuses:
        return Outcome.TIMEOUT
    if ShardStatus.ERRORED in statuses:
        return Outcome.ERRORED
    return None


def shard_results(runs: Sequence[ShardRun]) -> list[ShardResult]:
    return [
        ShardResult(
            index=run.index,
            status=run.status,
            duration_ms=run.duration_ms,
            tests=run.result.tests.total if run.result and run.result.tests else run.assigned,
            log_path=run.log_path,
            attempts=run.attempts,
            error=(run.result.error if run.result else run.failure) if run.status != "passed" else None,
        )
        for run in sorted(runs, key=lambda r: r.index)
    ]


def _counts(runs: Sequence[ShardRun]) -> TestCounts | None:
    tests = [run.result.tests for run in runs if run.result is not None and run.result.tests is not None]
    if not tests:
        return None
    return TestCounts(
        total=sum(t.total for t in tests),
        passed=sum(t.passed for t in tests),
        failed=sum(t.failed for t in tests),
        errored=sum(t.errored for t in tests),
        skipped=sum(t.skipped for t in tests),
    )


def _failing(runs: Sequence[ShardRun]) -> list[FailingTest]:
    found = [test for run in runs if run.result for test in run.result.failing_tests or []]
    return found[:MAX_FAILING_TESTS_PER_PHASE]


def _observations(runs: Sequence[ShardRun]) -> list[Observation]:
    merged = []
    for run in runs:
        for observation in run.result.observations or [] if run.result else []:
            merged.append(observation.model_copy(update={"text": f"[shard {run.index}] {observation.text}"}))
    return merged[:MAX_MERGED_OBSERVATIONS]


def _problem(run: ShardRun, count: int) -> str:
    what = run.result.error if run.result is not None else run.failure
    retried = " (after a retry)" if run.attempts > 1 else ""
    return f"shard {run.index} of {count}{retried}: {what or run.status.value}"


def _tests_message(counts: TestCounts | None, failing: list[FailingTest]) -> str | None:
    broken = (counts.failed + counts.errored) if counts else 0
    if not broken:
        return None
    names = ", ".join(test.name for test in failing[:3])
    more = f" and {broken - 3} more" if broken > 3 else ""
    return f"{broken} of {counts.total if counts else broken} tests failed: {names}{more}"


def merge_shards(name: str, runs: Sequence[ShardRun], wall_ms: int) -> PhaseResult:
    """One phase result: counts and failing tests of every shard, duration = wall time, `shards`."""
    runs = sorted(runs, key=lambda r: r.index)
    counts, failing = _counts(runs), _failing(runs)
    bad = [run for run in runs if run.status in _SEVERITY]
    status = PhaseStatus.PASSED
    if bad or any(run.status == ShardStatus.CANCELLED for run in runs):
        status = PhaseStatus.FAILED
    elif runs and all(run.status == ShardStatus.SKIPPED for run in runs):
        status = PhaseStatus.SKIPPED
    error = classification = remediation = None
    if status == PhaseStatus.FAILED:
        error, classification, remediation = _failure(runs, bad, counts, failing)
    return PhaseResult(
        name=name,
        status=status,
        duration_ms=wall_ms,
        duration_seconds=PhaseResult.seconds_from_ms(wall_ms),
        error=error,
        classification=classification,
        remediation=remediation,
        observations=_observations(runs) or None,
        tests=counts,
        failing_tests=failing or None,
        shards=shard_results(runs),
    )


def _failure(
    runs: Sequence[ShardRun], bad: list[ShardRun], counts: TestCounts | None, failing: list[FailingTest]
) -> tuple[str, Classification, str | None]:
    """The phase's error (failing tests first, then each shard that failed otherwise), and the most
    severe shard's classification: a crash or timeout matters more than a failing test."""
    tests = _tests_message(counts, failing)
    others = [
        run
        for run in bad
        if run.result is None or run.result.classification != Classification.TEST_FAILURE or not tests
    ]
    parts = ([tests] if tests else []) + [_problem(run, len(runs)) for run in others[:3]]
    if len(others) > 3:
        parts.append(f"and {len(others) - 3} more shards failed")
    worst = min(bad, key=lambda r: (_SEVERITY[r.status], r.index), default=None)
    if worst is None:  # only cancelled shards: stopped before they could answer
        return "the phase's shards were cancelled", Classification.SYSTEM, None
    if worst.result is not None:
        classification = worst.result.classification or Classification.TEST_FAILURE
        return "; ".join(parts), classification, worst.result.remediation
    if worst.timed_out:
        return "; ".join(parts), Classification.TIMEOUT, "Give the phase more time, or more shards."
    return (
        "; ".join(parts),
        Classification.SYSTEM,
        "The runner failed outside the phase's commands; retry, and report it if it persists.",
    )
