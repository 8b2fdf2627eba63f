"""What a finished run leaves behind, below both `queue/` and `execution/` (docs/architecture.md):
the stored execution (SuiteExecutionRecord), what started it (Trigger), the progress document of a
running request, and the one builder of a failed execution's record."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from pydantic import BaseModel, ConfigDict, Field

from testgenie.db import Connection
from testgenie.models_base import CamelModel, UtcDateTime
from testgenie.orchestrator.models import (
    Outcome,
    PhaseResult,
    PhaseSummary,
    SuiteExecutionResult,
    TestTiming,
    summarize_phases,
)


class Trigger(StrEnum):
    API = "api"
    QUEUE = "queue"
    SCHEDULE = "schedule"
    RERUN = "rerun"


class StoredExecution(SuiteExecutionResult):
    """GET /executions/{id} and /executions/latest: the result as recorded, with what started it (as
    each item of the list carries)."""

    trigger: Trigger


class SuiteExecutionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    suite_request_id: UUID | None = None
    scenario_name: str
    preset: str | None = None
    success: bool
    phases: list[PhaseResult] = Field(default_factory=list)
    started_at: datetime
    completed_at: datetime
    outcome: Outcome
    trigger: Trigger = Trigger.API
    requested: dict[str, Any] | None = None
    warnings: list[str] | None = None
    source_digest: str | None = None
    # Per-test durations of this run, upserted into test_timings when it is recorded (not stored in
    # the execution row).
    test_timings: list[TestTiming] = Field(default_factory=list, exclude=True)

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
            preset=result.preset or None,
            success=result.success,
            phases=list(result.phases),
            started_at=result.started_at,
            completed_at=result.completed_at,
            outcome=result.outcome,
            trigger=trigger,
            requested=requested,
            warnings=list(result.warnings) if result.warnings else None,
            source_digest=result.source_digest,
            test_timings=list(result.test_timings or []),
        )

    def to_execution_result(self) -> SuiteExecutionResult:
        return SuiteExecutionResult(
            execution_id=self.id,
            suite_request_id=self.suite_request_id,
            scenario_name=self.scenario_name,
            started_at=self.started_at,
            completed_at=self.completed_at,
            success=self.success,
            preset=self.preset or None,
            outcome=self.outcome,
            phases=list(self.phases),
            phase_summary=self.summary,
            warnings=list(self.warnings) if self.warnings else None,
            source_digest=self.source_digest,
        )

    def to_stored_execution(self) -> StoredExecution:
        return StoredExecution(**dict(self.to_execution_result()), trigger=self.trigger)


# No stored execution exceeds 1 MB of JSON: GET /executions/{id} and /latest stay far below Lambda's
# 6 MB response limit whatever a scenario prints (docs/database.md, "What can go wrong").
EXECUTION_NOT_FOUND = "execution not found"
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
    source_digest: str | None = None


class ExecutionWriter(Protocol):
    """Stores execution records inside a caller's transaction (the execution repository)."""

    def create(self, conn: Connection, record: SuiteExecutionRecord) -> None: ...


def failed_record(
    *,
    scenario_name: str,
    reason: str,
    started_at: datetime,
    outcome: Outcome = Outcome.ERRORED,
    phases: list[PhaseResult] | None = None,
    execution_id: UUID | None = None,
    suite_request_id: UUID | None = None,
    preset: str | None = None,
    trigger: Trigger = Trigger.API,
    requested: dict[str, Any] | None = None,
) -> SuiteExecutionRecord:
    """The record of a run that did not finish on its own (engine fault, invalid stored plan, a worker
    that never reported back): history and metrics still see it, with `reason` as its warning."""
    now = datetime.now(UTC)
    return SuiteExecutionRecord(
        id=execution_id or uuid4(),
        suite_request_id=suite_request_id,
        scenario_name=scenario_name,
        preset=preset or None,
        success=False,
        phases=list(phases or []),
        started_at=min(started_at, now),
        completed_at=now,
        outcome=outcome,
        trigger=trigger,
        requested=requested,
        warnings=[reason],
    )


def progress_of(results: list[PhaseResult], planned: list[str], *, final: bool = False) -> dict[str, Any]:
    """The progress JSON of a suite request: what ran, how it went, what comes next."""
    done = [{"name": r.name, "status": r.status.value, "durationMs": r.duration_ms} for r in results]
    remaining = planned[len(results) :]
    progress: dict[str, Any] = {
        "totalPhases": len(planned),
        "completedPhases": len(results),
        "phases": done,
    }
    if remaining and not final:
        progress["currentPhase"] = remaining[0]
    return progress


def execution_id_for(suite_request_id: UUID) -> UUID:
    """The id a durable run of this request records its execution under (one per request): known
    before the run starts, so POST /executions can name it in a 202, and a cancel records under it."""
    return uuid5(NAMESPACE_URL, f"testgenie:execution:{suite_request_id}")
