"""One phase as N runner invocations at once (docs/scenarios.md, "Shards").

What a sharded phase does is the same on every coordinator path: find what it splits (the cached
collection, else a collect-only invocation), read the learned durations, assign each shard its part
(shards/assign.py), run the shards (a crashed or silent one once more with the same part), merge
their answers (shards/merge.py) and store a summary log. How the shards run is the path's: threads
over RunnerClient here (ThreadShards), a durable map in coordinator/phases.py. Both give a
ShardBackend to run_sharded_phase.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from testgenie.artifacts import UploadTarget
from testgenie.orchestrator.models import (
    Classification,
    Outcome,
    PhaseResult,
    PhaseStatus,
    ShardAssignment,
    ShardsSetting,
)
from testgenie.runner.client import RunnerClient, RunnerFailure
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation, PriorTest
from testgenie.shards.assign import assign_shards, collection_key, summary_log
from testgenie.shards.merge import ShardRun, merge_shards, needs_retry, shard_outcome
from testgenie.shards.repository import Collection

# How often a waiting coordinator asks whether the run was cancelled.
STOP_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ShardOutcome:
    """One shard as it ended, with its answer's tests (for the business phase and the timings)."""

    run: ShardRun
    tests: tuple[PriorTest, ...] = ()
    stopped_at_run_deadline: bool = False
    warnings: tuple[str, ...] = ()


class ShardBackend(Protocol):
    """What a coordinator path offers a sharded phase."""

    def cached_collection(self, key: str) -> Collection | None: ...

    def store_collection(self, key: str, collection: Collection) -> None: ...

    def collect(self, invocation: PhaseInvocation) -> PhaseAnswer:
        """The collect-only invocation's answer; RunnerFailure when none came."""
        ...

    def durations(self, test_ids: Sequence[str]) -> dict[str, float]:
        """The learned durations (JUnit ids -> seconds); those of `test_ids` (node ids) suffice."""
        ...

    def run_shards(self, assignments: Sequence[ShardAssignment]) -> list[ShardOutcome]: ...

    def store_summary(self, data: bytes) -> str:
        """Store the phase's own log; its key ("" when it could not be stored)."""
        ...


@dataclass(frozen=True)
class ShardedPhase:
    """The settings of one sharded phase."""

    name: str
    setting: ShardsSetting
    base: PhaseInvocation  # the phase's own invocation: plan, bundle, timeout, deadline, log upload
    max_shards: int
    target_seconds: float


@dataclass(frozen=True)
class ShardedResult:
    result: PhaseResult
    outcome: Outcome | None
    tests: list[PriorTest]
    warnings: list[str]


def run_sharded_phase(
    phase: ShardedPhase, backend: ShardBackend, clock: Callable[[], float] = time.monotonic
) -> ShardedResult | None:
    """The merged result of the phase's shards; None when it is not worth sharding (one shard: the
    caller runs the phase as usual). A failed collection is the phase's result."""
    started = clock()
    found = _collection(phase, backend)
    if isinstance(found, ShardedResult):
        return found
    assignments = assign_shards(
        phase.setting,
        found,
        backend.durations(found.test_ids),
        max_shards=phase.max_shards,
        target_seconds=phase.target_seconds,
    )
    if len(assignments) < 2:
        return None
    ended = backend.run_shards(assignments)
    runs = [shard.run for shard in ended]
    merged = merge_shards(phase.name, runs, int((clock() - started) * 1000))
    lines = [f"{found.mode}: {len(found.test_ids)} tests collected" if found.mode == "tests" else "commands"]
    lines += [
        f"shard {r.index}: {r.status.value}, {r.tests} tests, {r.duration_ms} ms, "
        f"{r.attempts} attempt(s), log {r.log_path or '(none)'}" + (f": {r.error}" if r.error else "")
        for r in merged.shards or []
    ]
    merged = merged.model_copy(update={"log_path": backend.store_summary(summary_log(phase.name, lines))})
    outcome = shard_outcome(runs)
    if outcome is None and any(shard.stopped_at_run_deadline for shard in ended):
        outcome = Outcome.TIMEOUT
    return ShardedResult(
        result=merged,
        outcome=outcome,
        tests=[test for shard in ended for test in shard.tests],
        warnings=[warning for shard in ended for warning in shard.warnings],
    )


def _collection(phase: ShardedPhase, backend: ShardBackend) -> Collection | ShardedResult:
    """What the phase splits: the cached collection, else the runner's (cached when it worked)."""
    key = collection_key(phase.base.bundle.sha256, phase.name, phase.base.timeout_seconds)
    cached = backend.cached_collection(key)
    if cached is not None:
        return cached
    try:
        answer = backend.collect(phase.base.model_copy(update={"collect_only": True}))
    except RunnerFailure as failure:
        return _failed(phase.name, f"collecting the tests: {failure.message}", failure.timed_out)
    if answer.collection is None:
        return _failed(phase.name, "collecting the tests: the runner's answer has no collection", False)
    if answer.collection.error is not None:
        result = answer.result.model_copy(
            update={"log_path": phase.base.log_upload.key if answer.log_stored else ""}
        )
        return ShardedResult(result, None, [], list(answer.warnings))
    collection = Collection(mode=answer.collection.mode, test_ids=tuple(answer.collection.test_ids))
    backend.store_collection(key, collection)
    return collection


def _failed(name: str, message: str, timed_out: bool) -> ShardedResult:
    result = PhaseResult(
        name=name,
        status=PhaseStatus.FAILED,
        error=message,
        classification=Classification.TIMEOUT if timed_out else Classification.SYSTEM,
        remediation="The runner failed outside the phase's commands; retry, and report it if it persists.",
    )
    return ShardedResult(result, Outcome.TIMEOUT if timed_out else Outcome.ERRORED, [], [message])


def shard_invocation(
    base: PhaseInvocation, assignment: ShardAssignment, upload: UploadTarget
) -> PhaseInvocation:
    return base.model_copy(update={"shard": assignment, "log_upload": upload, "collect_only": False})


def outcome_of(
    assignment: ShardAssignment, attempt: int, answer: PhaseAnswer, log_key: str, duration_ms: int
) -> ShardOutcome:
    """A shard that answered (its failing tests included)."""
    run = ShardRun(
        index=assignment.index,
        assigned=len(assignment.tests or []),
        attempts=attempt,
        result=answer.result,
        log_path=log_key if answer.log_stored else "",
        duration_ms=duration_ms,
    )
    warnings = tuple(f"shard {assignment.index}: {text}" for text in answer.warnings)
    return ShardOutcome(run, tuple(answer.tests), answer.stopped_at_run_deadline, warnings)


def failure_of(
    assignment: ShardAssignment, attempt: int, failure: RunnerFailure, duration_ms: int
) -> ShardOutcome:
    run = ShardRun(
        index=assignment.index,
        assigned=len(assignment.tests or []),
        attempts=attempt,
        failure=failure.message,
        timed_out=failure.timed_out,
        duration_ms=duration_ms,
    )
    return ShardOutcome(run, warnings=(f"shard {assignment.index}: {failure.message}",))


class ThreadShards:
    """Shards as threads over RunnerClient (the coordinator that waits for its runner): all at once,
    a crashed or silent shard once more, and with failFast or a cancel the others abandoned."""

    def __init__(
        self,
        runner: RunnerClient,
        invocation_for: Callable[[ShardAssignment], PhaseInvocation],
        wait_seconds: float,
        *,
        fail_fast: bool,
        should_stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.invocation_for = invocation_for
        self.wait_seconds = wait_seconds
        self.fail_fast = fail_fast
        self.should_stop = should_stop
        self.clock = clock
        self.stop = threading.Event()

    def _one(self, assignment: ShardAssignment) -> ShardOutcome:
        attempt = 0
        while True:
            attempt += 1
            invocation = self.invocation_for(assignment)
            started = self.clock()
            try:
                answer = self.runner.run_phase(invocation, self.wait_seconds)
            except RunnerFailure as failure:
                ended = failure_of(assignment, attempt, failure, int((self.clock() - started) * 1000))
                if needs_retry(ended.run) and not self.stop.is_set():
                    continue
                return ended
            done = outcome_of(
                assignment, attempt, answer, invocation.log_upload.key, int((self.clock() - started) * 1000)
            )
            if self.fail_fast and answer.result.status == PhaseStatus.FAILED:
                self.stop.set()
            return done

    def _asked_to_stop(self) -> bool:
        try:
            return bool(self.should_stop())
        except Exception:  # a failing cancellation check must not end the phase
            return False

    def run_all(self, assignments: Sequence[ShardAssignment]) -> list[ShardOutcome]:
        finished: dict[int, ShardOutcome] = {}
        lock = threading.Condition()

        def work(assignment: ShardAssignment) -> None:
            ended = self._one(assignment)
            with lock:
                finished[assignment.index] = ended
                lock.notify_all()

        for assignment in assignments:
            # Daemon threads: an abandoned shard never holds the process open.
            threading.Thread(
                target=work, args=(assignment,), name=f"shard-{assignment.index}", daemon=True
            ).start()
        with lock:
            while len(finished) < len(assignments) and not self.stop.is_set():
                lock.wait(timeout=STOP_POLL_SECONDS)
                if self._asked_to_stop():
                    self.stop.set()
            return [
                finished.get(a.index)
                or ShardOutcome(
                    ShardRun(index=a.index, assigned=len(a.tests or []), cancelled=True, failure="stopped")
                )
                for a in assignments
            ]
