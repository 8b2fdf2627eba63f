"""N shard answers make one phase result; which shards are run again."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from testgenie.orchestrator.models import (
    Classification,
    FailingTest,
    Observation,
    Outcome,
    PhaseResult,
    PhaseStatus,
    ShardStatus,
    TestCounts,
)
from testgenie.shards.merge import (
    MAX_SHARD_ATTEMPTS,
    ShardRun,
    merge_shards,
    needs_retry,
    shard_outcome,
)


def _answer(passed: int, failed: tuple[str, ...] = (), *, skipped: int = 0) -> PhaseResult:
    status = PhaseStatus.FAILED if failed else PhaseStatus.PASSED
    return PhaseResult(
        name="unit",
        status=status,
        duration_ms=1000,
        tests=TestCounts(
            total=passed + len(failed) + skipped, passed=passed, failed=len(failed), skipped=skipped
        ),
        failing_tests=[FailingTest(name=n, signature="AssertionError") for n in failed] or None,
        error=f"{len(failed)} tests failed" if failed else None,
        classification=Classification.TEST_FAILURE if failed else None,
        remediation="Fix the failing tests listed in the phase log." if failed else None,
        observations=[Observation(text=f"{passed} passed")],
    )


def _shard(index: int, result: PhaseResult | None, **kw: object) -> ShardRun:
    return ShardRun(index=index, assigned=5, result=result, log_path=f"log-{index}", duration_ms=900, **kw)  # type: ignore[arg-type]


def test_counts_and_failing_tests_from_every_shard() -> None:
    runs = [_shard(1, _answer(4, ("t::b",))), _shard(0, _answer(5)), _shard(2, _answer(3, skipped=2))]
    merged = merge_shards("unit", runs, wall_ms=1234)

    assert merged.status == PhaseStatus.FAILED
    assert merged.tests == TestCounts(total=15, passed=12, failed=1, skipped=2)
    assert [t.name for t in merged.failing_tests or []] == ["t::b"]
    assert merged.error == "1 of 15 tests failed: t::b"
    assert merged.classification == Classification.TEST_FAILURE
    assert merged.duration_ms == 1234  # the wall time, not the sum of the shards
    assert merged.duration_seconds == 2
    shards = merged.shards or []
    assert [(s.index, s.status, s.tests, s.log_path) for s in shards] == [
        (0, ShardStatus.PASSED, 5, "log-0"),
        (1, ShardStatus.FAILED, 5, "log-1"),
        (2, ShardStatus.PASSED, 5, "log-2"),
    ]
    assert {o.text.split("]")[0] for o in merged.observations or []} == {"[shard 0", "[shard 1", "[shard 2"}
    assert shard_outcome(runs) is None  # failing tests fail the phase, not the run's engine


def test_all_passed_is_passed_and_all_skipped_is_skipped() -> None:
    assert merge_shards("unit", [_shard(0, _answer(2)), _shard(1, _answer(3))], 10).status == "passed"
    skipped = PhaseResult(name="unit", status=PhaseStatus.SKIPPED)
    merged = merge_shards("unit", [_shard(0, skipped), _shard(1, skipped)], 10)
    assert merged.status == PhaseStatus.SKIPPED
    assert merged.error is None


def test_a_shard_that_crashed_twice_fails_the_phase_and_ends_the_run_errored() -> None:
    crashed = _shard(1, None, failure="the runner crashed (Runtime.ExitError): signal 9", attempts=2)
    runs = [_shard(0, _answer(5, ("t::x",))), crashed]
    merged = merge_shards("unit", runs, 50)

    assert merged.status == PhaseStatus.FAILED
    assert merged.classification == Classification.SYSTEM  # more severe than the failing test
    assert merged.error == (
        "1 of 6 tests failed: t::x; shard 1 of 2 (after a retry): the runner crashed "
        "(Runtime.ExitError): signal 9"
    )
    assert merged.tests == TestCounts(total=6, passed=5, failed=1)  # the answering shard is kept
    assert (merged.shards or [])[1].status == ShardStatus.ERRORED
    assert (merged.shards or [])[1].tests == 5  # what it was given
    assert shard_outcome(runs) == Outcome.ERRORED
    timed_out = _shard(1, None, failure="no answer within 30.0s", timed_out=True, attempts=2)
    assert shard_outcome([timed_out, crashed]) == Outcome.TIMEOUT
    assert merge_shards("unit", [timed_out], 5).classification == Classification.TIMEOUT


def test_cancelled_shards_fail_the_phase_without_hiding_the_failure() -> None:
    runs = [_shard(0, _answer(1, ("t::a",))), _shard(1, None, cancelled=True)]
    merged = merge_shards("unit", runs, 5)
    assert merged.status == PhaseStatus.FAILED
    assert merged.error == "1 of 2 tests failed: t::a"
    assert (merged.shards or [])[1].status == ShardStatus.CANCELLED
    only_cancelled = merge_shards("unit", [_shard(0, None, cancelled=True)], 5)
    assert only_cancelled.error == "the phase's shards were cancelled"
    assert shard_outcome([_shard(0, None, cancelled=True)]) is None


def test_a_shard_failing_for_another_reason_is_named() -> None:
    broken = PhaseResult(
        name="unit",
        status=PhaseStatus.FAILED,
        error="`pytest` exited with code 4",
        classification=Classification.MISCONFIGURATION,
        remediation="fix it",
    )
    merged = merge_shards("unit", [_shard(0, _answer(2)), _shard(1, broken)], 5)
    assert merged.error == "shard 1 of 2: `pytest` exited with code 4"
    assert merged.classification == Classification.MISCONFIGURATION
    assert merged.remediation == "fix it"


def test_only_a_shard_without_an_answer_is_retried_and_only_once() -> None:
    assert needs_retry(_shard(0, None, failure="crashed"))
    assert needs_retry(_shard(0, None, failure="no answer", timed_out=True))
    assert not needs_retry(_shard(0, None, failure="crashed", attempts=MAX_SHARD_ATTEMPTS))
    assert not needs_retry(_shard(0, _answer(1, ("t::a",))))  # failing tests are an answer
    assert not needs_retry(_shard(0, _answer(1)))
    assert not needs_retry(_shard(0, None, cancelled=True))


answers = st.builds(
    _answer,
    st.integers(0, 50),
    st.lists(st.text("abc:", min_size=1, max_size=5), max_size=30).map(tuple),
    skipped=st.integers(0, 5),
)


@settings(max_examples=200)
@given(st.lists(answers, min_size=1, max_size=12), st.integers(0, 10**7))
def test_merged_counts_are_the_sum_of_the_shards(results: list[PhaseResult], wall: int) -> None:
    runs = [_shard(i, result) for i, result in enumerate(results)]
    merged = merge_shards("unit", runs, wall)

    for field in ("total", "passed", "failed", "errored", "skipped"):
        assert getattr(merged.tests, field) == sum(getattr(r.tests, field) for r in results)
    assert merged.status == (
        PhaseStatus.FAILED if any(r.status == PhaseStatus.FAILED for r in results) else PhaseStatus.PASSED
    )
    assert [s.index for s in merged.shards or []] == list(range(len(results)))
    assert len(merged.failing_tests or []) <= 20
    assert merged.duration_ms == wall
