"""From what a phase splits (its collected test ids, or its commands) and the learned durations to
each shard's assignment (docs/scenarios.md, "Shards"). Pure functions, so the coordinator's two
paths (a thread per shard, a durable map) split the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from testgenie.orchestrator.models import ShardAssignment, ShardsSetting
from testgenie.shards.repository import Collection
from testgenie.shards.split import auto_shard_count, expected_total, split_tests

# Bump when what a collection answers changes, so no cache entry of the old shape is used.
COLLECTION_FORMAT = 1
_PY_SUFFIX = re.compile(r"\.py$")


def junit_id(node_id: str) -> str:
    """The id JUnit gives a pytest test ("classname::name"), from its node id: the stored durations
    are keyed by it (pytest's junitxml names a test this way)."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = _PY_SUFFIX.sub("", names[0].replace("/", "."))
    names[-1] += bracket + params
    classname, name = ".".join(names[:-1]), names[-1]
    return f"{classname}::{name}" if classname else name


def collection_key(bundle_sha256: str, phase: str, timeout_seconds: int) -> str:
    """The cache key of a phase's collection: the bytes it was collected from (testing.json included)
    and the phase's settings."""
    text = f"{COLLECTION_FORMAT}\n{bundle_sha256}\n{phase}\n{timeout_seconds}"
    return hashlib.sha256(text.encode()).hexdigest()


def assign_shards(
    setting: ShardsSetting,
    collection: Collection,
    durations: Mapping[str, float],
    *,
    max_shards: int,
    target_seconds: float,
) -> list[ShardAssignment]:
    """Each shard's part. Never more shards than tests; one assignment means "do not shard"."""
    if collection.mode == "commands":
        if setting == "auto":
            total = sum(durations.values())
            count = auto_shard_count(total, target_seconds=target_seconds, max_shards=max_shards)
        else:
            count = min(setting, max_shards)
        return [ShardAssignment(index=i, count=count) for i in range(count)]
    ids = list(dict.fromkeys(collection.test_ids))
    by_node = {node: durations[junit_id(node)] for node in ids if junit_id(node) in durations}
    if setting == "auto":
        count = auto_shard_count(
            expected_total(ids, by_node), target_seconds=target_seconds, max_shards=max_shards, tests=len(ids)
        )
    else:
        count = max(1, min(setting, max_shards, len(ids)))
    parts = split_tests(ids, by_node, count)
    return [ShardAssignment(index=i, count=count, tests=part) for i, part in enumerate(parts)]


def shard_log_name(phase: str, index: int) -> str:
    """The log a shard writes (artifacts.log_key accepts it): `unit.shard-3`."""
    return f"{phase}.shard-{index}"


def summary_log(phase: str, lines: Sequence[str]) -> bytes:
    """The sharded phase's own log: what was split, and each shard's outcome and log."""
    text = "\n".join([f"=== test-genie phase '{phase}' ran as shards", *lines, ""])
    return text.encode()
