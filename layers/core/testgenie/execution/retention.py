"""Retention: executions older than RETENTION_DAYS are deleted in bounded batches, with their phase
rows and logs; pinned executions are kept forever (docs/api.md: retention and pins).

Each batch is one short transaction that also rebuilds the summaries of the scenarios it touched,
so GET /scenarios never points at a deleted run. Rows are taken with SKIP LOCKED: a batch never
waits on a recording and a recording never waits on more than one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from testgenie.artifacts import ArtifactStore
from testgenie.db import Connection, Transactions
from testgenie.errors import NotFoundError
from testgenie.execution.repository import ExpiredExecution
from testgenie.execution.store import ExecutionStore
from testgenie.models_base import Clock, utc_now
from testgenie.observability import logger
from testgenie.records import EXECUTION_NOT_FOUND

DEFAULT_BATCH = 500
# One invocation deletes at most this many batches; the next scheduled run takes the rest.
DEFAULT_MAX_BATCHES = 40


@dataclass(frozen=True)
class PruneReport:
    deleted: int
    batches: int
    cutoff: datetime | None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "action": "prune",
            "deleted": self.deleted,
            "batches": self.batches,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
        }


class TimingPruner(Protocol):
    """Deletes test timings and collections not seen since a cutoff (shards/repository.py)."""

    def prune(self, conn: Connection, cutoff: datetime, batch: int) -> int: ...


class RetentionService:
    def __init__(
        self,
        db: Transactions,
        executions: ExecutionStore,
        artifacts: ArtifactStore | None,
        retention_days: int,
        *,
        timings: TimingPruner,
        batch: int = DEFAULT_BATCH,
        max_batches: int = DEFAULT_MAX_BATCHES,
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self._artifacts = artifacts
        self._days = retention_days
        self._batch = batch
        self._max_batches = max_batches
        self._executions = executions
        self._timings = timings
        self._clock = clock

    def pin(self, execution_id: UUID, pinned: bool) -> dict[str, object]:
        found = self._db.run_statement(lambda conn: self._executions.set_pinned(conn, execution_id, pinned))
        if not found:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        return {"executionId": str(execution_id), "pinned": pinned}

    def prune(self, now: datetime | None = None) -> PruneReport:
        """Delete expired, unpinned executions; a no-op when retention is off (0 days)."""
        if self._days <= 0:
            return PruneReport(0, 0, None)
        cutoff = (now or self._clock()) - timedelta(days=self._days)
        deleted = batches = 0
        while batches < self._max_batches:
            gone = self._db.run(lambda conn: self._delete_batch(conn, cutoff))
            if not gone:
                break
            batches += 1
            deleted += len(gone)
            self._delete_logs(gone)
            if len(gone) < self._batch:
                break
        logger.info("retention pruned executions", extra={"deleted": deleted, "cutoff": cutoff.isoformat()})
        self._prune_timings(cutoff)
        return PruneReport(deleted, batches, cutoff)

    def _prune_timings(self, cutoff: datetime) -> None:
        """Test timings and collections not seen since the cutoff (a test gone from the suite)."""
        for _ in range(self._max_batches):
            if self._db.run(lambda conn: self._timings.prune(conn, cutoff, self._batch)) < self._batch:
                break

    def _delete_batch(self, conn: Connection, cutoff: datetime) -> list[ExpiredExecution]:
        gone = self._executions.delete_expired(conn, cutoff, self._batch)
        for scenario in sorted({item.scenario_name for item in gone}):  # one lock order: no deadlocks
            self._executions.rebuild_summary(conn, scenario)
        return gone

    def _delete_logs(self, gone: list[ExpiredExecution]) -> None:
        """After the rows are gone: a failure here leaves files nobody points at, never a run without
        its logs."""
        if self._artifacts is None:
            return
        try:
            self._artifacts.delete_logs([path for item in gone for path in item.log_paths])
        except Exception:
            logger.exception("could not delete the logs of pruned executions")
