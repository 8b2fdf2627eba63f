"""A sharded phase in a durable execution (docs/scenarios.md, "Shards"): a `context.map` of chained
invokes of RunnerFunction, one branch per shard, each with the scenario's tenant id.

The collection cache and the durations are read in steps (checkpointed: a replay splits the same
way); each branch signs its shard's log upload in a step of its own and invokes the runner; a
crashed or silent shard is invoked once more in the same branch. With failFast a shard with failing
tests ends the map at once (tolerated failures: none): the other branches are abandoned.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from testgenie.orchestrator.models import PhaseResult, PhaseStatus, ShardAssignment
from testgenie.runner.client import RunnerFailure
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation, PriorTest
from testgenie.runner.sharded import ShardOutcome, failure_of, outcome_of, shard_invocation
from testgenie.shards.assign import junit_id, shard_log_name
from testgenie.shards.merge import ShardRun, needs_retry
from testgenie.shards.repository import Collection
from testgenie.shards.store import ShardStore

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python import DurableContext

    from testgenie.artifacts import ArtifactStore


@dataclass(frozen=True)
class ShardSettings:
    """What sharding needs from the deployment: MaxShards, SHARD_TARGET_SECONDS, the database side."""

    store: ShardStore | None
    max_shards: int
    target_seconds: float


class _FailedFast(Exception):
    """A shard's tests failed under failFast: ends the map (its outcome rides in the message)."""


def outcome_to_json(outcome: ShardOutcome) -> dict[str, Any]:
    run = outcome.run
    return {
        "run": {
            "index": run.index,
            "assigned": run.assigned,
            "attempts": run.attempts,
            "result": run.result.model_dump(mode="json", by_alias=True) if run.result else None,
            "failure": run.failure,
            "timedOut": run.timed_out,
            "cancelled": run.cancelled,
            "logPath": run.log_path,
            "durationMs": run.duration_ms,
        },
        "tests": [test.model_dump(mode="json", by_alias=True) for test in outcome.tests],
        "stopped": outcome.stopped_at_run_deadline,
        "warnings": list(outcome.warnings),
    }


def outcome_from_json(data: dict[str, Any]) -> ShardOutcome:
    run = data["run"]
    return ShardOutcome(
        run=ShardRun(
            index=run["index"],
            assigned=run["assigned"],
            attempts=run["attempts"],
            result=PhaseResult.model_validate(run["result"]) if run.get("result") else None,
            failure=run.get("failure"),
            timed_out=bool(run.get("timedOut")),
            cancelled=bool(run.get("cancelled")),
            log_path=run.get("logPath") or "",
            duration_ms=int(run.get("durationMs") or 0),
        ),
        tests=tuple(PriorTest.model_validate(test) for test in data.get("tests") or []),
        stopped_at_run_deadline=bool(data.get("stopped")),
        warnings=tuple(data.get("warnings") or []),
    )


def pack_ids(ids: Sequence[str]) -> str:
    """Test ids, compressed for a checkpoint (a step's result is at most 256 KiB: ids share long
    path prefixes, so this holds about ten times as many)."""
    return base64.b64encode(zlib.compress(json.dumps(list(ids)).encode(), 6)).decode()


def unpack_ids(packed: str) -> list[str]:
    ids: list[str] = json.loads(zlib.decompress(base64.b64decode(packed)))
    return ids


def step_clock(step: Callable[[Callable[[], Any], str], Any], label: str) -> Callable[[], float]:
    """A clock whose readings are steps: a replay reads the times the first run saw."""
    readings = iter(range(1_000_000))

    def now() -> float:
        reading: float = step(time.time, f"clock {label} {next(readings)}")
        return reading

    return now


def _since(started: float) -> Callable[[object], int]:
    """A step's body: milliseconds since `started` (epoch seconds, read in an earlier step)."""
    return lambda _: int((time.time() - started) * 1000)


@dataclass
class DurableShards:
    """ShardBackend of one phase of a durable execution."""

    context: DurableContext
    step: Callable[[Callable[[], Any], str], Any]  # a checkpointed step of the execution
    invoke: Callable[[DurableContext, PhaseInvocation], PhaseAnswer]  # the one chained invoke of a phase
    artifacts: ArtifactStore
    settings: ShardSettings
    base: PhaseInvocation
    fail_fast: bool

    @property
    def _scenario(self) -> str:
        return self.base.scenario_name

    def cached_collection(self, key: str) -> Collection | None:
        store = self.settings.store
        if store is None:
            return None

        def read() -> dict[str, Any] | None:
            found = store.collection(self._scenario, key)
            return None if found is None else {"mode": found.mode, "testIds": pack_ids(found.test_ids)}

        cached = self.step(read, f"collection {self.base.phase}")
        if cached is None:
            return None
        return Collection(mode=cached["mode"], test_ids=tuple(unpack_ids(cached["testIds"])))

    def store_collection(self, key: str, collection: Collection) -> None:
        store = self.settings.store
        if store is not None:
            self.step(
                lambda: store.store_collection(self._scenario, key, collection), f"cache {self.base.phase}"
            )

    def collect(self, invocation: PhaseInvocation) -> PhaseAnswer:
        return self.invoke(self.context, invocation)

    def durations(self, test_ids: Sequence[str]) -> dict[str, float]:
        """Read in a step that checkpoints only what the split needs, kept small whatever the
        suite's size: a commands phase's total, else one number per collected test (by position)."""
        store = self.settings.store
        if store is None:
            return {}
        keys = [junit_id(node) for node in test_ids]

        def read() -> dict[str, Any]:
            known = store.durations(self._scenario, self.base.phase)
            if not keys:
                return {"total": sum(known.values())}
            return {"ms": [round(known[k] * 1000) if k in known else -1 for k in keys]}

        found = self.step(read, f"durations {self.base.phase}")
        if "total" in found:
            return {"(the phase)": float(found["total"])}
        return {key: ms / 1000 for key, ms in zip(keys, found["ms"], strict=True) if ms >= 0}

    def run_shards(self, assignments: Sequence[ShardAssignment]) -> list[ShardOutcome]:
        from aws_durable_execution_sdk_python.config import CompletionConfig, MapConfig

        items = [assignment.model_dump(mode="json", by_alias=True) for assignment in assignments]
        completion = (
            CompletionConfig(tolerated_failure_count=0)
            if self.fail_fast
            else CompletionConfig.all_completed()  # type: ignore[no-untyped-call]
        )
        batch: Any = self.context.map(
            items,
            self._branch,
            name=f"shards {self.base.phase}",
            config=MapConfig(max_concurrency=len(items), completion_config=completion),
        )
        outcomes = {item.index: self._item(item, assignments[item.index]) for item in batch.all}
        return [outcomes[i] for i in range(len(assignments))]

    def store_summary(self, data: bytes) -> str:
        def put() -> str:
            try:
                return self.artifacts.put_log(self.base.execution_id, self.base.phase, data)
            except Exception:  # the result matters more than its log
                return ""

        key: str = self.step(put, f"summary {self.base.phase}")
        return key

    def _item(self, item: Any, assignment: ShardAssignment) -> ShardOutcome:
        status = str(getattr(item.status, "value", item.status))
        if status == "SUCCEEDED" and item.result is not None:
            return outcome_from_json(item.result)
        message = item.error.message if item.error is not None else None
        if status == "FAILED" and message:
            try:
                return outcome_from_json(json.loads(message))
            except (ValueError, KeyError, TypeError):
                failure = RunnerFailure(f"the shard's branch failed: {message[:300]}")
                return failure_of(assignment, 1, failure, 0)
        # Still running when failFast ended the map: abandoned.
        run = ShardRun(index=assignment.index, assigned=len(assignment.tests or []), cancelled=True)
        return ShardOutcome(run)

    def _branch(self, ctx: DurableContext, item: dict[str, Any], index: int, _items: Sequence[Any]) -> Any:
        assignment = ShardAssignment.model_validate(item)
        attempt = 0
        while True:
            attempt += 1
            prepared = ctx.step(
                lambda _: self._prepare(assignment), name=f"prepare shard {index} try {attempt}"
            )
            invocation = PhaseInvocation.model_validate(prepared["invocation"])
            started = float(prepared["preparedAt"])
            settle = _since(started)
            try:
                answer = self.invoke(ctx, invocation)
            except RunnerFailure as failure:
                took = ctx.step(settle, name=f"settle shard {index}")
                ended = failure_of(assignment, attempt, failure, took)
                if needs_retry(ended.run):
                    continue
                return outcome_to_json(ended)
            took = ctx.step(settle, name=f"settle shard {index}")
            done = outcome_to_json(outcome_of(assignment, attempt, answer, invocation.log_upload.key, took))
            if self.fail_fast and answer.result.status == PhaseStatus.FAILED:
                raise _FailedFast(json.dumps(done))
            return done

    def _prepare(self, assignment: ShardAssignment) -> dict[str, Any]:
        """Inside a step: the shard's invocation, its log upload signed now."""
        from testgenie.runner.coordinator import upload_lifetime

        name = shard_log_name(self.base.phase, assignment.index)
        upload = self.artifacts.upload_target(
            self.base.execution_id, name, upload_lifetime(self.base.timeout_seconds)
        )
        invocation = shard_invocation(self.base, assignment, upload)
        return {"invocation": invocation.model_dump(mode="json", by_alias=True), "preparedAt": time.time()}
