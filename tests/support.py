"""Test helpers shared across suites: a scriptable fake engine and record builders."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from testgenie.db import Database
from testgenie.errors import ValidationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.orchestrator.engine_protocol import ProgressCallback, StopCheck
from testgenie.orchestrator.models import (
    Classification,
    FailingTest,
    Outcome,
    PhasePlan,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionRequest,
    SuiteExecutionResult,
    summarize_phases,
)
from testgenie.queue.publisher import SuiteRequestPublisher
from testgenie.queue.service import SuiteRequestService
from testgenie.records import SuiteExecutionRecord, Trigger


def suite_requests(
    db: Database, publisher: SuiteRequestPublisher | None = None, **options: Any
) -> SuiteRequestService:
    """SuiteRequestService wired with the real execution repository (as bootstrap does)."""
    options.setdefault("executions", SuiteExecutionRepository())
    return SuiteRequestService(db, publisher, **options)


KNOWN_PHASES = ["structure", "standards", "docs", "unit", "integration"]


class FakeEngine:
    """Plans against a fixed phase list; each phase passes unless named in `failing`."""

    def __init__(
        self,
        failing: set[str] | None = None,
        crash: Exception | None = None,
        before_phase: Callable[[str], None] | None = None,
    ) -> None:
        self.failing = failing or set()
        self.crash = crash
        self.before_phase = before_phase
        self.executed: list[UUID] = []
        self.deadlines: list[float | None] = []

    def plan(self, request: SuiteExecutionRequest) -> PhasePlan:
        if not request.scenario_name.strip():
            raise ValidationError("scenarioName is required")
        names = request.phases or KNOWN_PHASES
        for name in names:
            if name not in KNOWN_PHASES:
                raise ValidationError(f"phase '{name}' is not defined")
        return PhasePlan(scenario_name=request.scenario_name, preset=request.preset, phases=list(names))

    def execute(
        self,
        request: SuiteExecutionRequest,
        execution_id: UUID,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        *,
        deadline: float | None = None,
    ) -> SuiteExecutionResult:
        plan = self.plan(request)
        self.deadlines.append(deadline)
        self.executed.append(execution_id)
        started = datetime.now(UTC)
        results: list[PhaseResult] = []
        outcome = Outcome.PASSED
        for name in plan.phases:
            if should_stop is not None and should_stop():
                outcome = Outcome.CANCELLED
                break
            if deadline is not None and time.monotonic() >= deadline:
                outcome = Outcome.TIMEOUT
                break
            if self.before_phase is not None:
                self.before_phase(name)
            if self.crash is not None and results:
                raise self.crash
            status = PhaseStatus.FAILED if name in self.failing else PhaseStatus.PASSED
            results.append(
                PhaseResult(
                    name=name,
                    status=status,
                    duration_seconds=1,
                    duration_ms=5,
                    log_path=f"executions/{execution_id}/{name}.log",
                    error="boom" if status is PhaseStatus.FAILED else None,
                )
            )
            if on_progress is not None:
                on_progress(list(results), plan.phases)
            if status is PhaseStatus.FAILED and request.fail_fast:
                break
        success = all(r.status is not PhaseStatus.FAILED for r in results)
        if outcome not in (Outcome.CANCELLED, Outcome.TIMEOUT):
            outcome = Outcome.PASSED if success else Outcome.FAILED
        return SuiteExecutionResult(
            execution_id=execution_id,
            scenario_name=request.scenario_name,
            started_at=started,
            completed_at=datetime.now(UTC),
            success=success,
            preset=plan.preset,
            outcome=outcome,
            phases=results,
            phase_summary=summarize_phases(results),
        )


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
        preset_used=preset,
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
    trigger: Trigger = Trigger.API,
    preset: str | None = "quick",
    outcome: Outcome | None = None,
    duration_ms: int = 3000,
) -> SuiteExecutionRecord:
    """A record with named phases ({name: status}), failing tests per phase and a source digest."""
    results = [
        PhaseResult(
            name=name,
            status=PhaseStatus(status),
            duration_seconds=1,
            duration_ms=100 * (index + 1),
            classification=Classification.TEST_FAILURE if status == "failed" else None,
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
        preset_used=preset,
        success=success,
        phases=results,
        started_at=completed_at - timedelta(milliseconds=duration_ms),
        completed_at=completed_at,
        outcome=outcome or (Outcome.PASSED if success else Outcome.FAILED),
        trigger=trigger,
        source_digest=digest,
    )
