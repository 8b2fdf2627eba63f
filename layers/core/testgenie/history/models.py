"""Answer shapes of the history routes for the OpenAPI document (docs/api.md). The answers
themselves are built by history/documents.py and history/stats.py; tests hold both equal."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from testgenie.models_base import CamelModel, UtcDateTime


class LastExecution(CamelModel):
    execution_id: UUID
    outcome: str
    completed_at: UtcDateTime


class ScenarioHealth(CamelModel):
    scenario_name: str
    last_execution: LastExecution
    window: int = Field(description="runs the figures cover at most (the newest)")
    runs: int
    pass_rate: float
    median_duration_ms: int
    recent_outcomes: list[str] = Field(description="up to 20 newest outcomes, oldest first")
    flaky_phases: int


class ScenarioPage(CamelModel):
    items: list[ScenarioHealth]
    count: int
    next_cursor: str | None


class LastFailure(CamelModel):
    execution_id: UUID
    completed_at: UtcDateTime
    signature: str | None = Field(description="the first failing test's signature, when tests failed")
    error: str | None = Field(
        default=None, description="the phase's error, when no test failed (e.g. a command that failed)"
    )


class PhaseStats(CamelModel):
    name: str
    runs: int
    pass_rate: float = Field(description="passed / (passed + failed) runs of the phase")
    p50_duration_ms: int
    p95_duration_ms: int
    last_failure: LastFailure | None
    classifications: dict[str, int]
    flaky: bool = Field(description="one source digest both passed and failed the phase in the window")
    flakiness: float = Field(description="share of the phase's runs under such a digest")
    flip_rate: float = Field(description="share of consecutive runs whose pass/fail differ")


class FlakyTest(CamelModel):
    phase: str
    name: str
    passed: int
    failed: int


class DayCount(CamelModel):
    date: str
    runs: int
    failures: int


class ScenarioStats(CamelModel):
    scenario_name: str
    window: int
    runs: int
    phases: list[PhaseStats]
    flaky_tests: list[FlakyTest]
    days: list[DayCount]


class PhaseChange(CamelModel):
    name: str
    before: str | None
    after: str | None
    changed: bool
    duration_ms_before: int | None
    duration_ms_after: int | None
    duration_ms_delta: int | None


class ComparedTest(CamelModel):
    phase: str
    name: str
    signature: str | None = None


class ExecutionComparison(CamelModel):
    execution_id: UUID
    base_execution_id: UUID
    source_digest_changed: bool
    phases: list[PhaseChange]
    newly_failing_tests: list[ComparedTest]
    newly_fixed_tests: list[ComparedTest]


class PinState(CamelModel):
    execution_id: UUID
    pinned: bool
