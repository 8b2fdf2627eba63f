"""A scriptable fake engine: plans against a fixed phase list, runs without a workspace."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from testgenie.errors import ValidationError
from testgenie.orchestrator.models import (
    Outcome,
    PhasePlan,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionResult,
    SuitePlan,
    summarize_phases,
)
from testgenie.orchestrator.run.engine_protocol import ProgressCallback, StopCheck

KNOWN_PHASES = ["structure", "standards", "docs", "unit", "integration"]


class FakeEngine:
    """Plans against a fixed phase list; each phase passes unless named in `failing`."""

    def __init__(
        self,
        failing: set[str] | None = None,
        crash: Exception | None = None,
        before_phase: Callable[[str], None] | None = None,
        *,
        validates: bool = True,
    ) -> None:
        """`validates=False`: plan() accepts any phase (a queue that stores plans unchecked)."""
        self.failing = failing or set()
        self.validates = validates
        self.crash = crash
        self.before_phase = before_phase
        self.plan_error: Exception | None = None  # raised by plan(): a fault inside the engine
        self.executed: list[UUID] = []
        self.deadlines: list[float | None] = []

    def plan(self, request: SuitePlan) -> PhasePlan:
        if self.plan_error is not None:
            raise self.plan_error
        if not request.scenario_name.strip():
            raise ValidationError("scenarioName is required")
        names = request.phases or KNOWN_PHASES
        for name in names:
            if self.validates and name not in KNOWN_PHASES:
                raise ValidationError(f"phase '{name}' is not defined")
        return PhasePlan(scenario_name=request.scenario_name, preset=request.preset, phases=list(names))

    def execute(
        self,
        request: SuitePlan,
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
