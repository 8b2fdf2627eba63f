"""Domain models of a suite execution. JSON keys are exactly the API's (docs/api.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, model_validator

from testgenie.models_base import CamelModel, UtcDateTime


class PhaseStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Classification(StrEnum):
    MISCONFIGURATION = "misconfiguration"
    MISSING_DEPENDENCY = "missing_dependency"
    TIMEOUT = "timeout"
    SYSTEM = "system"
    TEST_FAILURE = "test_failure"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class Observation(CamelModel):
    icon: str | None = None
    prefix: str | None = None
    section: str | None = None
    text: str = ""


class TestCounts(CamelModel):
    __test__ = False  # not a pytest test class

    total: int = 0
    passed: int = 0
    failed: int = 0
    errored: int = 0
    skipped: int = 0


# Failing tests kept per phase, and the length of a failure signature (docs/api.md).
MAX_FAILING_TESTS_PER_PHASE = 20
MAX_SIGNATURE_CHARS = 200


class FailingTest(CamelModel):
    """A test that failed or errored: its full name and a short signature (exception type + first line)."""

    name: str
    signature: str = ""


class ShardAssignment(CamelModel):
    """What one shard runs: its test ids (a detected pytest phase), or, with `tests` None, the
    phase's commands with TESTGENIE_SHARD_INDEX / TESTGENIE_SHARD_COUNT to select their part."""

    index: int = Field(ge=0)
    count: int = Field(ge=1)
    tests: list[str] | None = None

    @model_validator(mode="after")
    def _index_in_range(self) -> ShardAssignment:
        if self.index >= self.count:
            raise ValueError(f"shard index {self.index} is not below the shard count {self.count}")
        return self


class ShardStatus(StrEnum):
    """How one shard of a phase ended: a phase status, or why it gave no result."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERRORED = "errored"  # the runner crashed (twice: a crashed shard is retried once)
    TIMEOUT = "timeout"  # the runner gave no answer in time (twice)
    CANCELLED = "cancelled"  # stopped because of a cancel or another shard's failure (failFast)


class ShardResult(CamelModel):
    """One shard of a sharded phase (docs/scenarios.md, "Shards")."""

    index: int = Field(ge=0)
    status: ShardStatus
    duration_ms: int = 0
    tests: int = 0  # the test cases the shard ran (its JUnit), else the ones it was given
    log_path: str = ""
    attempts: int = 1
    error: str | None = None


class PhaseResult(CamelModel):
    name: str
    status: PhaseStatus
    duration_seconds: int = 0
    duration_ms: int = 0
    log_path: str = ""
    error: str | None = None
    classification: Classification | None = None
    remediation: str | None = None
    observations: list[Observation] | None = None
    tests: TestCounts | None = None
    failing_tests: list[FailingTest] | None = None
    shards: list[ShardResult] | None = None  # a phase run as N shards: one entry each, by index

    @staticmethod
    def seconds_from_ms(duration_ms: int) -> int:
        """durationSeconds: ceil of the real duration (>= 1 for anything that ran; docs/api.md)."""
        return math.ceil(duration_ms / 1000) if duration_ms > 0 else 0


class TestTiming(CamelModel):
    """How long one test took in a run (its JUnit `time`): what the shard split learns from."""

    __test__ = False  # not a pytest test class

    phase: str
    test_id: str  # the JUnit "classname::name"
    duration_ms: int = Field(ge=0)


class PhaseSummary(CamelModel):
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    duration_seconds: int = 0
    observation_count: int = 0


def summarize_phases(phases: list[PhaseResult] | None) -> PhaseSummary:
    """Counts per status; negative durations are ignored."""
    summary = PhaseSummary()
    for phase in phases or []:
        summary.total += 1
        if phase.duration_seconds > 0:
            summary.duration_seconds += phase.duration_seconds
        summary.observation_count += len(phase.observations or [])
        if phase.status == PhaseStatus.PASSED:
            summary.passed += 1
        elif phase.status == PhaseStatus.FAILED:
            summary.failed += 1
        elif phase.status == PhaseStatus.SKIPPED:
            summary.skipped += 1
    return summary


# A phase's shards: a count, or "auto" (from the stored test timings; docs/scenarios.md, "Shards").
ShardsSetting = int | Literal["auto"]
DEFAULT_MAX_SHARDS = 16


def parse_shards(value: Any) -> ShardsSetting | None:
    """A request's `shards`: a whole number (the range is the planner's: 1 … MaxShards) or "auto".
    Booleans and other text are refused, so `true` never means one shard."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError('must be a whole number of shards (1 … MaxShards) or "auto"')


class SuitePlan(CamelModel):
    """What to run. Names are normalised and validated by the planner, not here."""

    scenario_name: str
    preset: str | None = None
    phases: list[str] | None = None
    skip: list[str] | None = None
    fail_fast: bool = False
    shards: ShardsSetting | None = None  # overrides testing.json's (1 … MaxShards, checked by the planner)

    def requested(self) -> dict[str, Any]:
        """What the client asked for, stored beside the execution (without the scenario)."""
        unset = {"shards"} if self.shards is None else set()
        return self.model_dump(mode="json", by_alias=True, exclude={"scenario_name", *unset})


class PhasePlan(CamelModel):
    """The validated selection of phases for one request, built before anything is claimed."""

    scenario_name: str
    preset: str | None = None
    phases: list[str]
    timeouts: dict[str, int] = Field(default_factory=dict)
    fail_fast: bool = False
    warnings: list[str] = Field(default_factory=list)
    # The phases that run as several shards: a count (>= 2) or "auto" (resolved when the phase runs).
    shards: dict[str, ShardsSetting] = Field(default_factory=dict)


def run_outcome(planned: Sequence[str], results: Sequence[PhaseResult], stopped: Outcome | None) -> Outcome:
    """How a run ended: `stopped` (cancelled, timeout, errored) wins, then any failed phase.

    A run that stopped early after a failure (fail-fast) or left a planned phase unrun is FAILED;
    only PASSED is a success (docs/api.md, "success").
    """
    if stopped is not None:
        return stopped
    ran = {result.name for result in results}
    failed = any(result.status == PhaseStatus.FAILED for result in results)
    return Outcome.FAILED if failed or any(name not in ran for name in planned) else Outcome.PASSED


class SuiteExecutionResult(CamelModel):
    execution_id: UUID
    suite_request_id: UUID | None = None
    scenario_name: str
    started_at: UtcDateTime
    completed_at: UtcDateTime
    success: bool
    preset: str | None = None
    outcome: Outcome
    phases: list[PhaseResult] = Field(default_factory=list)
    phase_summary: PhaseSummary = Field(default_factory=PhaseSummary)
    warnings: list[str] | None = None
    # The digest of the scenario source that ran (bundle digest or a local folder's tree hash).
    source_digest: str | None = None
    # Recorded with the run (test_timings table), never part of an answer.
    test_timings: list[TestTiming] | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _success_only_when_passed(self) -> SuiteExecutionResult:
        # `success` means every planned phase ran and none failed: a cancelled, timed-out or
        # errored run is never a success, whatever an older record stored (docs/api.md).
        if self.success and self.outcome != Outcome.PASSED:
            self.success = False
        return self
