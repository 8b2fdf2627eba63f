"""What every runner gets (PhaseContext) and fills in (PhaseReport), and the capped phase log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from testgenie.orchestrator.models import (
    Classification,
    FailingTest,
    Observation,
    ShardAssignment,
    TestCounts,
)
from testgenie.orchestrator.planning.testing_config import PhaseConfig, TestingConfig

DEFAULT_LOG_CAP_BYTES = 1024 * 1024
DEFAULT_REMEDIATION = "Refer to the phase logs to triage the failure."
TIMEOUT_REMEDIATION = "Increase the timeout or break the phase into smaller steps."


class PhaseTimeout(Exception):
    """The phase's deadline passed; the engine turns this into a `timeout` failure."""


class LogBuffer:
    """The phase log, capped: keeps the head and the tail and says how much was dropped in between."""

    def __init__(self, cap_bytes: int = DEFAULT_LOG_CAP_BYTES) -> None:
        self.cap = max(1024, cap_bytes)
        self._head_cap = self.cap // 4
        self._tail_cap = self.cap - self._head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0

    def write(self, data: bytes) -> None:
        if len(self._head) < self._head_cap:
            room = self._head_cap - len(self._head)
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        if len(self._tail) > self._tail_cap:
            excess = len(self._tail) - self._tail_cap
            del self._tail[:excess]
            self.dropped += excess

    def write_stream(self, stream: IO[bytes], chunk: int = 64 * 1024) -> None:
        while block := stream.read(chunk):
            self.write(block)

    def line(self, text: str) -> None:
        self.write(text.encode("utf-8", errors="replace") + b"\n")

    def getvalue(self) -> bytes:
        if not self.dropped:
            return bytes(self._head + self._tail)
        note = f"\n[... {self.dropped} bytes truncated by test-genie (log cap {self.cap} bytes) ...]\n"
        return bytes(self._head) + note.encode() + bytes(self._tail)


TestStatus = Literal["passed", "failed", "errored", "skipped"]


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest test class

    name: str
    classname: str
    status: TestStatus
    message: str = ""
    phase: str = ""
    error_type: str = ""  # the <failure type="..."> attribute, when the report gives one
    duration_ms: int | None = None  # the <testcase time="..."> attribute, when the report gives one

    @property
    def full_name(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name


@dataclass
class RunState:
    """Shared by the phases of one run (the business phase reads the tests earlier phases ran)."""

    test_cases: list[TestCase] = field(default_factory=list)


@dataclass
class Failure:
    message: str
    classification: Classification
    remediation: str


@dataclass
class PhaseContext:
    name: str
    scenario_dir: Path  # the run's private copy
    config: PhaseConfig
    testing: TestingConfig
    env: dict[str, str]  # the scrubbed environment for commands
    reports_dir: Path  # $TESTGENIE_REPORTS_DIR: JUnit XML written here is read after the commands
    scratch_dir: Path  # private temp space of the orchestrator (command output files)
    deadline: float  # time.monotonic() at which the phase must stop
    log: LogBuffer
    run: RunState
    script: Path | None = None  # custom phases: .testgenie/phases/test-<name>.sh
    clock: Callable[[], float] = time.monotonic
    shard: ShardAssignment | None = None  # this phase runs as one shard of several

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def check_deadline(self) -> float:
        remaining = self.remaining()
        if remaining <= 0:
            raise PhaseTimeout(f"phase '{self.name}' ran out of time")
        return remaining


@dataclass
class PhaseReport:
    """What a runner found. No checks at all means the phase is skipped."""

    observations: list[Observation] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    checks: int = 0
    tests: TestCounts | None = None
    failing_tests: list[FailingTest] = field(default_factory=list)
    skip_reason: str = "nothing is configured or detectable for this phase"

    def ok(self, text: str) -> None:
        self.checks += 1
        self.observations.append(Observation(icon="✅", prefix="SUCCESS", text=text))

    def fail(
        self,
        text: str,
        classification: Classification = Classification.TEST_FAILURE,
        remediation: str = DEFAULT_REMEDIATION,
    ) -> None:
        self.checks += 1
        self.observations.append(Observation(icon="❌", prefix="ERROR", text=text))
        self.failures.append(Failure(text, classification, remediation))

    def warn(self, text: str) -> None:
        self.observations.append(Observation(icon="⚠️", prefix="WARNING", text=text))

    def info(self, text: str) -> None:
        self.observations.append(Observation(icon="ℹ️", prefix="INFO", text=text))  # noqa: RUF001


PhaseKind = Callable[[PhaseContext, PhaseReport], None]
