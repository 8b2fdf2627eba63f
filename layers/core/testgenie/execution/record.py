"""SuiteExecutionRecord: one stored execution, and its conversions to API results."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from testgenie.models_base import CamelModel, UtcDateTime
from testgenie.orchestrator.models import (
    Outcome,
    PhaseResult,
    PhaseSummary,
    SuiteExecutionResult,
    summarize_phases,
)
from testgenie.queue.models import Trigger


class SuiteExecutionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    suite_request_id: UUID | None = None
    scenario_name: str
    preset_used: str | None = None
    success: bool
    phases: list[PhaseResult] = Field(default_factory=list)
    started_at: datetime
    completed_at: datetime
    outcome: Outcome
    trigger: Trigger = Trigger.API
    requested: dict[str, Any] | None = None
    warnings: list[str] | None = None
    source_digest: str | None = None

    @property
    def summary(self) -> PhaseSummary:
        return summarize_phases(self.phases)

    @property
    def duration_ms(self) -> int:
        return max(0, int((self.completed_at - self.started_at).total_seconds() * 1000))

    @classmethod
    def from_result(
        cls,
        result: SuiteExecutionResult,
        trigger: Trigger = Trigger.API,
        requested: dict[str, Any] | None = None,
    ) -> SuiteExecutionRecord:
        return cls(
            id=result.execution_id,
            suite_request_id=result.suite_request_id,
            scenario_name=result.scenario_name,
            preset_used=result.preset or None,
            success=result.success,
            phases=list(result.phases),
            started_at=result.started_at,
            completed_at=result.completed_at,
            outcome=result.outcome,
            trigger=trigger,
            requested=requested,
            warnings=list(result.warnings) if result.warnings else None,
            source_digest=result.source_digest,
        )

    def to_execution_result(self) -> SuiteExecutionResult:
        return SuiteExecutionResult(
            execution_id=self.id,
            suite_request_id=self.suite_request_id,
            scenario_name=self.scenario_name,
            started_at=self.started_at,
            completed_at=self.completed_at,
            success=self.success,
            preset=self.preset_used or None,
            outcome=self.outcome,
            phases=list(self.phases),
            phase_summary=self.summary,
            warnings=list(self.warnings) if self.warnings else None,
            source_digest=self.source_digest,
        )


class SuiteExecutionSummary(CamelModel):
    """A list item: the result without its phases (lists read summary columns only)."""

    execution_id: UUID
    suite_request_id: UUID | None = None
    scenario_name: str
    started_at: UtcDateTime
    completed_at: UtcDateTime
    success: bool
    preset: str | None = None
    outcome: Outcome
    trigger: Trigger
    duration_ms: int
    phase_summary: PhaseSummary
    source_digest: str | None = None
