"""Execution record builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from testgenie.orchestrator.models import Classification, FailingTest, Outcome, PhaseResult, PhaseStatus
from testgenie.records import SuiteExecutionRecord, Trigger


def make_record(
    scenario: str = "demo",
    completed_at: datetime | None = None,
    *,
    suite_request_id: UUID | None = None,
    preset: str | None = "quick",
    statuses: tuple[PhaseStatus, ...] = (PhaseStatus.PASSED,),
    execution_id: UUID | None = None,
) -> SuiteExecutionRecord:
    completed = completed_at or datetime.now(UTC)
    phases = [
        PhaseResult(name=f"phase{i}", status=status, duration_seconds=1, duration_ms=900)
        for i, status in enumerate(statuses)
    ]
    success = PhaseStatus.FAILED not in statuses
    return SuiteExecutionRecord(
        id=execution_id or uuid4(),
        suite_request_id=suite_request_id,
        scenario_name=scenario,
        preset=preset,
        success=success,
        phases=phases,
        started_at=completed - timedelta(seconds=3),
        completed_at=completed,
        outcome=Outcome.PASSED if success else Outcome.FAILED,
        trigger=Trigger.API,
    )


def run_record(
    scenario: str,
    completed_at: datetime,
    phases: dict[str, str],
    *,
    digest: str | None = "sha256:one",
    failing: dict[str, list[str]] | None = None,
    errors: dict[str, str] | None = None,
    trigger: Trigger = Trigger.API,
    preset: str | None = "quick",
    outcome: Outcome | None = None,
    duration_ms: int = 3000,
) -> SuiteExecutionRecord:
    """A record with named phases ({name: status}), failing tests and errors per phase, a source digest."""
    results = [
        PhaseResult(
            name=name,
            status=PhaseStatus(status),
            duration_seconds=1,
            duration_ms=100 * (index + 1),
            classification=Classification.TEST_FAILURE if status == "failed" else None,
            error=(errors or {}).get(name),
            failing_tests=[
                FailingTest(name=test, signature=f"AssertionError: {test}")
                for test in (failing or {}).get(name, [])
            ]
            or None,
        )
        for index, (name, status) in enumerate(phases.items())
    ]
    success = "failed" not in phases.values()
    return SuiteExecutionRecord(
        id=uuid4(),
        scenario_name=scenario,
        preset=preset,
        success=success,
        phases=results,
        started_at=completed_at - timedelta(milliseconds=duration_ms),
        completed_at=completed_at,
        outcome=outcome or (Outcome.PASSED if success else Outcome.FAILED),
        trigger=trigger,
        source_digest=digest,
    )
