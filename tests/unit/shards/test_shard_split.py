"""The split of a phase's tests over shards, and the shard count "auto" picks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testgenie.shards.split import (
    ASSUMED_TEST_SECONDS,
    auto_shard_count,
    estimated_seconds,
    expected_total,
    split_tests,
)

test_ids = st.lists(st.text("abcdefgh:/_[]0123456789", min_size=1, max_size=12), max_size=60, unique=True)
timings = st.floats(min_value=0, max_value=1000, allow_nan=False)


@st.composite
def suites(draw: st.DrawFn) -> tuple[list[str], dict[str, float], int]:
    ids = draw(test_ids)
    known = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    durations = {test: draw(timings) for test in known}
    durations["not-collected-any-more"] = draw(timings)  # a timing of a test that is gone
    return ids, durations, draw(st.integers(min_value=1, max_value=20))


@settings(max_examples=300)
@given(suites())
def test_every_test_runs_in_exactly_one_shard(suite: tuple[list[str], dict[str, float], int]) -> None:
    ids, durations, count = suite
    shards = split_tests(ids, durations, count)

    assert len(shards) == count
    flat = [test for shard in shards for test in shard]
    assert sorted(flat) == sorted(ids)  # the union is the collection, no id twice
    position = {test: i for i, test in enumerate(ids)}
    for shard in shards:  # each shard keeps the collection order
        assert [position[t] for t in shard] == sorted(position[t] for t in shard)


@settings(max_examples=200)
@given(suites())
def test_the_same_inputs_give_the_same_split(suite: tuple[list[str], dict[str, float], int]) -> None:
    ids, durations, count = suite
    assert split_tests(ids, durations, count) == split_tests(
        list(ids), dict(reversed(durations.items())), count
    )


@settings(max_examples=200)
@given(suites())
def test_greedy_longest_first_is_within_the_bound_of_its_kind(
    suite: tuple[list[str], dict[str, float], int],
) -> None:
    """Greedy list scheduling: the longest shard is at most the mean load plus the longest test."""
    ids, durations, count = suite
    expected = estimated_seconds(ids, durations)
    shards = split_tests(ids, durations, count)
    loads = [sum(expected[t] for t in shard) for shard in shards]
    if ids:
        assert max(loads) <= sum(loads) / count + max(expected.values()) + 1e-6


def test_longest_first_balances_a_skewed_suite() -> None:
    # A tenth of the tests are ten times longer: they spread over the shards first.
    ids = [f"t{i:03}" for i in range(100)]
    durations = {t: (10.0 if i % 10 == 0 else 1.0) for i, t in enumerate(ids)}
    shards = split_tests(ids, durations, 4)

    loads = [sum(durations[t] for t in shard) for shard in shards]
    assert max(loads) - min(loads) <= 1.0
    assert [sum(1 for t in shard if durations[t] == 10.0) for shard in shards] in ([3, 3, 2, 2], [2, 3, 3, 2])
    assert sum(loads) == 190.0


def test_by_count_without_timings_in_contiguous_runs() -> None:
    ids = [f"t{i}" for i in range(10)]

    assert split_tests(ids, {}, 3) == [ids[0:4], ids[4:7], ids[7:10]]
    # Timings of tests that are no longer collected do not count as timings.
    assert split_tests(ids, {"gone": 5.0}, 3) == [ids[0:4], ids[4:7], ids[7:10]]


def test_a_test_without_timing_gets_the_mean_of_the_known_ones() -> None:
    assert estimated_seconds(["a", "b", "c"], {"a": 2.0, "b": 4.0}) == {"a": 2.0, "b": 4.0, "c": 3.0}
    assert estimated_seconds(["a"], {}) == {"a": ASSUMED_TEST_SECONDS}
    assert estimated_seconds(["a", "b"], {"a": float("nan"), "b": -1.0}) == {
        "a": ASSUMED_TEST_SECONDS,
        "b": ASSUMED_TEST_SECONDS,
    }
    # c is new: it weighs like an average test, so it lands on the lighter shard.
    assert split_tests(["a", "b", "c"], {"a": 6.0, "b": 2.0}, 2) == [["a"], ["b", "c"]]


def test_more_shards_than_tests_leaves_shards_empty() -> None:
    assert split_tests(["a", "b"], {}, 4) == [["a"], ["b"], [], []]
    assert split_tests([], {}, 2) == [[], []]
    assert split_tests(["a", "a", "b"], {}, 1) == [["a", "b"]]


def test_no_shard_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one shard"):
        split_tests(["a"], {}, 0)


def test_auto_picks_enough_shards_for_the_target() -> None:
    assert auto_shard_count(600, target_seconds=60, max_shards=16) == 10
    assert auto_shard_count(601, target_seconds=60, max_shards=16) == 11
    assert auto_shard_count(59, target_seconds=60, max_shards=16) == 1
    assert auto_shard_count(0, target_seconds=60, max_shards=16) == 1
    assert auto_shard_count(100_000, target_seconds=60, max_shards=16) == 16  # bounded by MaxShards
    assert auto_shard_count(100_000, target_seconds=60, max_shards=16, tests=3) == 3  # never empty shards
    assert auto_shard_count(100_000, target_seconds=60, max_shards=16, tests=0) == 1
    with pytest.raises(ValueError, match="positive"):
        auto_shard_count(10, target_seconds=0, max_shards=4)


def test_expected_total_fills_the_unknown_and_counts_each_test_once() -> None:
    assert expected_total(["a", "b", "c", "a"], {"a": 30.0, "b": 60.0}) == 135.0
    assert expected_total(["a", "b"], {}) == 2 * ASSUMED_TEST_SECONDS
