"""The shards of the coordinator that waits for its runner (threads over RunnerClient): all at once,
a crashed one once more, failFast and a cancel abandon the others without waiting for them."""

from __future__ import annotations

import threading
from uuid import uuid4

from testgenie.artifacts import UploadTarget
from testgenie.orchestrator.models import PhasePlan, PhaseResult, PhaseStatus, ShardAssignment
from testgenie.runner.client import RunnerFailure
from testgenie.runner.protocol import BundleRef, PhaseAnswer, PhaseInvocation
from testgenie.runner.sharded import ThreadShards

EXECUTION = uuid4()
BASE = PhaseInvocation(
    execution_id=EXECUTION,
    scenario_name="demo",
    bundle=BundleRef(url="https://b.example/x.tar.gz", sha256="a" * 64, size_bytes=1),
    plan=PhasePlan(scenario_name="demo", phases=["unit"]),
    phase="unit",
    timeout_seconds=60,
    log_upload=UploadTarget(url="https://b.example/put", key=f"executions/{EXECUTION}/unit.log"),
)
PARTS = [ShardAssignment(index=i, count=3, tests=[f"t{i}"]) for i in range(3)]


class FakeRunner:
    def __init__(self, behave: dict[int, str]) -> None:
        self.behave = behave
        self.calls: list[int] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def run_phase(self, invocation: PhaseInvocation, wait_seconds: float) -> PhaseAnswer:
        assert invocation.shard is not None
        index = invocation.shard.index
        with self.lock:
            self.calls.append(index)
            attempt = self.calls.count(index)
        how = self.behave.get(index, "pass")
        if how == "crash-once" and attempt == 1:
            raise RunnerFailure("the runner crashed (Runtime.ExitError): signal 9")
        if how == "hang":
            self.release.wait(timeout=60)
        status = PhaseStatus.FAILED if how == "fail" else PhaseStatus.PASSED
        result = PhaseResult(name="unit", status=status)
        return PhaseAnswer(execution_id=EXECUTION, phase="unit", result=result, log_stored=True)


def _shards(
    runner: FakeRunner, *, fail_fast: bool = False, stop: threading.Event | None = None
) -> ThreadShards:
    return ThreadShards(
        runner,
        lambda part: BASE.model_copy(update={"shard": part}),
        30.0,
        fail_fast=fail_fast,
        should_stop=(stop.is_set if stop else lambda: False),
    )


def test_a_crashed_shard_runs_once_more_and_the_others_once() -> None:
    runner = FakeRunner({1: "crash-once"})
    ended = _shards(runner).run_all(PARTS)
    assert sorted(runner.calls) == [0, 1, 1, 2]
    assert [e.run.attempts for e in ended] == [1, 2, 1]
    assert [e.run.status.value for e in ended] == ["passed", "passed", "passed"]


def test_fail_fast_abandons_the_shards_still_running() -> None:
    runner = FakeRunner({0: "fail", 1: "hang", 2: "hang"})
    try:
        ended = _shards(runner, fail_fast=True).run_all(PARTS)
    finally:
        runner.release.set()
    assert [e.run.status.value for e in ended] == ["failed", "cancelled", "cancelled"]


def test_without_fail_fast_a_failing_shard_lets_the_others_finish() -> None:
    runner = FakeRunner({0: "fail"})
    ended = _shards(runner).run_all(PARTS)
    assert [e.run.status.value for e in ended] == ["failed", "passed", "passed"]


def test_a_cancel_abandons_every_shard_still_running() -> None:
    runner = FakeRunner({0: "hang", 1: "hang", 2: "hang"})
    stop = threading.Event()
    stop.set()
    try:
        ended = _shards(runner, stop=stop).run_all(PARTS)
    finally:
        runner.release.set()
    assert [e.run.status.value for e in ended] == ["cancelled", "cancelled", "cancelled"]
