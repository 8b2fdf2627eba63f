"""Which tests each shard runs, and how many shards "auto" means (docs/scenarios.md, "Shards").

Pure functions over test ids and durations learned from earlier runs: no I/O, so the same inputs
give the same split, and a retried shard gets exactly the tests it had.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence

# "auto" with no timings at all: each test is assumed to take this long (a guess, replaced by the
# measured durations from the phase's first run on).
ASSUMED_TEST_SECONDS = 1.0
DEFAULT_SHARD_TARGET_SECONDS = 60.0


def estimated_seconds(test_ids: Sequence[str], durations: Mapping[str, float]) -> dict[str, float]:
    """Each test's expected duration: its own when known, else the mean of the known ones of this
    list (else ASSUMED_TEST_SECONDS). Negative or non-finite timings count as unknown."""
    known = {t: durations[t] for t in test_ids if _usable(durations.get(t))}
    mean = sum(known.values()) / len(known) if known else ASSUMED_TEST_SECONDS
    return {t: known.get(t, mean) for t in test_ids}


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value >= 0


def split_tests(test_ids: Sequence[str], durations: Mapping[str, float], count: int) -> list[list[str]]:
    """`count` lists of test ids (some may be empty when there are fewer tests than shards).

    With timings: greedy longest-first (each test, longest first, goes to the shard with the least
    expected time so far; ties to the lower index). Without any: contiguous runs of equal size, by
    count. Each shard keeps the collection order, so module fixtures are set up once per shard.
    A test id given twice runs once.
    """
    if count < 1:
        raise ValueError(f"a phase has at least one shard, not {count}")
    order = list(dict.fromkeys(test_ids))
    if not any(_usable(durations.get(t)) for t in order):
        return _by_count(order, count)
    expected = estimated_seconds(order, durations)
    position = {test: i for i, test in enumerate(order)}
    longest_first = sorted(order, key=lambda t: (-expected[t], position[t]))
    loads = [(0.0, index) for index in range(count)]  # a heap of (expected seconds, shard index)
    shards: list[list[str]] = [[] for _ in range(count)]
    for test in longest_first:
        load, index = heapq.heappop(loads)
        shards[index].append(test)
        heapq.heappush(loads, (load + expected[test], index))
    return [sorted(shard, key=position.__getitem__) for shard in shards]


def _by_count(order: list[str], count: int) -> list[list[str]]:
    size, extra = divmod(len(order), count)
    shards, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        shards.append(order[start:end])
        start = end
    return shards


def auto_shard_count(
    expected_total_seconds: float, *, target_seconds: float, max_shards: int, tests: int | None = None
) -> int:
    """Enough shards for each to take about `target_seconds`: 1 … max_shards, and never more shards
    than tests (when the tests are known)."""
    if target_seconds <= 0:
        raise ValueError("SHARD_TARGET_SECONDS must be positive")
    wanted = math.ceil(max(0.0, expected_total_seconds) / target_seconds) if expected_total_seconds else 1
    upper = max_shards if tests is None else min(max_shards, max(1, tests))
    return max(1, min(wanted, upper))


def expected_total(test_ids: Sequence[str], durations: Mapping[str, float]) -> float:
    """The phase's expected time run as one shard (estimated_seconds summed)."""
    return sum(estimated_seconds(list(dict.fromkeys(test_ids)), durations).values())
