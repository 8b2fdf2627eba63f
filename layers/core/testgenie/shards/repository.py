"""Per-test durations and cached test collections (docs/database.md, "Shards")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from psycopg.types.json import Jsonb

from testgenie.db import Connection
from testgenie.orchestrator.models import TestTiming
from testgenie.sql import load_queries

# A recording writes at most this many timings; a phase with more tests keeps the longest ones.
MAX_TIMINGS_PER_RUN = 20_000
MAX_TEST_ID_CHARS = 1000

QUERIES = load_queries(Path(__file__).with_name("queries.sql"))

CollectionMode = Literal["tests", "commands"]


@dataclass(frozen=True)
class Collection:
    """What a phase splits: its test ids ("tests"), or nothing the service can see ("commands": each
    shard runs the phase's commands with TESTGENIE_SHARD_INDEX / TESTGENIE_SHARD_COUNT)."""

    mode: CollectionMode
    test_ids: tuple[str, ...] = ()


class TestTimingRepository:
    __test__ = False  # not a pytest test class

    def record(self, conn: Connection, scenario_name: str, timings: Sequence[TestTiming]) -> int:
        """Upsert the run's timings (the longest MAX_TIMINGS_PER_RUN); returns how many were written."""
        latest: dict[tuple[str, str], int] = {}
        for timing in timings:
            if 0 < len(timing.test_id) <= MAX_TEST_ID_CHARS and timing.duration_ms >= 0:
                latest[(timing.phase, timing.test_id)] = timing.duration_ms
        kept = sorted(latest.items(), key=lambda item: -item[1])[:MAX_TIMINGS_PER_RUN]
        if not kept:
            return 0
        # Rows are locked in key order, so two recordings of one scenario never deadlock.
        rows = [{"phase": phase, "test_id": test_id, "ms": ms} for (phase, test_id), ms in sorted(kept)]
        conn.execute(QUERIES["upsert_timings"], {"scenario": scenario_name, "rows": json.dumps(rows)})
        return len(rows)

    def durations(self, conn: Connection, scenario_name: str, phase: str) -> dict[str, float]:
        """test id -> seconds, as last measured."""
        rows = conn.execute(
            QUERIES["timings"], {"scenario": scenario_name, "phase": phase, "limit": MAX_TIMINGS_PER_RUN}
        ).fetchall()
        return {row["test_id"]: row["duration_ms"] / 1000 for row in rows}

    def collection(self, conn: Connection, scenario_name: str, cache_key: str) -> Collection | None:
        row = conn.execute(
            QUERIES["collection"], {"scenario": scenario_name, "cache_key": cache_key}
        ).fetchone()
        if row is None:
            return None
        return Collection(mode=row["mode"], test_ids=tuple(row["test_ids"]))

    def store_collection(
        self, conn: Connection, scenario_name: str, cache_key: str, collection: Collection
    ) -> None:
        conn.execute(
            QUERIES["insert_collection"],
            {
                "scenario": scenario_name,
                "cache_key": cache_key,
                "mode": collection.mode,
                "test_ids": Jsonb(list(collection.test_ids)),
            },
        )

    def prune(self, conn: Connection, cutoff: datetime, batch: int) -> int:
        """Delete up to `batch` timings and `batch` collections older than `cutoff`; how many went."""
        timings = conn.execute(QUERIES["delete_old_timings"], {"cutoff": cutoff, "batch": batch}).rowcount
        collections = conn.execute(
            QUERIES["delete_old_collections"], {"cutoff": cutoff, "batch": batch}
        ).rowcount
        return max(0, timings) + max(0, collections)
