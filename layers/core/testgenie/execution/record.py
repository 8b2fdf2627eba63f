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
        """The record to store, bounded (MAX_RECORD_BYTES) so that no GET can exceed Lambda's limits."""
        return bounded(cls._of(result, trigger, requested))

    @classmethod
    def _of(
        cls, result: SuiteExecutionResult, trigger: Trigger, requested: dict[str, Any] | None
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
        )


# No stored execution exceeds 1 MB of JSON: GET /executions/{id} and /latest stay far below Lambda's
# 6 MB response limit whatever a scenario prints (docs/database.md, "What can go wrong").
MAX_RECORD_BYTES = 1024 * 1024
MAX_WARNINGS = 50
MAX_OBSERVATIONS_PER_PHASE = 200
MAX_TEXT_CHARS = 4000


def bounded(record: SuiteExecutionRecord) -> SuiteExecutionRecord:
    """Caps the lists and texts of a record; if it is still too large, drops the observations."""
    warnings = list(record.warnings or [])
    if len(warnings) > MAX_WARNINGS:
        dropped = len(warnings) - MAX_WARNINGS + 1
        warnings = [*warnings[: MAX_WARNINGS - 1], f"... {dropped} more warnings were not stored"]
    warnings = [w[:MAX_TEXT_CHARS] for w in warnings]
    phases = [_bounded_phase(p) for p in record.phases]
    capped = record.model_copy(update={"warnings": warnings or None, "phases": phases})
    if len(capped.model_dump_json()) <= MAX_RECORD_BYTES:
        return capped
    slim = [p.model_copy(update={"observations": None}) for p in phases]
    note = "phase observations were dropped: the execution exceeded 1 MB"
    return capped.model_copy(update={"phases": slim, "warnings": [*warnings[: MAX_WARNINGS - 1], note]})


def _bounded_phase(phase: PhaseResult) -> PhaseResult:
    update: dict[str, Any] = {}
    for name in ("error", "remediation"):
        text = getattr(phase, name)
        if text is not None and len(text) > MAX_TEXT_CHARS:
            update[name] = text[:MAX_TEXT_CHARS] + " [truncated]"
    observations = phase.observations or []
    if len(observations) > MAX_OBSERVATIONS_PER_PHASE or any(
        len(o.text) > MAX_TEXT_CHARS for o in observations
    ):
        kept = [
            o.model_copy(update={"text": o.text[:MAX_TEXT_CHARS]})
            for o in observations[:MAX_OBSERVATIONS_PER_PHASE]
        ]
        update["observations"] = kept
    return phase.model_copy(update=update) if update else phase


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
