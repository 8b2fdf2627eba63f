"""The shard settings' database side for a coordinator: durations and the collection cache, each in
its own short transaction; a database problem costs the split its timings, never the phase."""

from __future__ import annotations

from typing import Protocol

from testgenie.db import Database
from testgenie.observability import logger
from testgenie.shards.repository import Collection, TestTimingRepository


class ShardStore(Protocol):
    def durations(self, scenario: str, phase: str) -> dict[str, float]: ...

    def collection(self, scenario: str, key: str) -> Collection | None: ...

    def store_collection(self, scenario: str, key: str, collection: Collection) -> None: ...


class DatabaseShardStore:
    def __init__(self, db: Database, repository: TestTimingRepository | None = None) -> None:
        self._db = db
        self._repo = repository or TestTimingRepository()

    def durations(self, scenario: str, phase: str) -> dict[str, float]:
        try:
            return self._db.run_statement(lambda conn: self._repo.durations(conn, scenario, phase))
        except Exception:
            logger.warning("no test durations for the shard split", extra={"scenario": scenario})
            return {}

    def collection(self, scenario: str, key: str) -> Collection | None:
        try:
            return self._db.run_statement(lambda conn: self._repo.collection(conn, scenario, key))
        except Exception:
            logger.warning("the collection cache could not be read", extra={"scenario": scenario})
            return None

    def store_collection(self, scenario: str, key: str, collection: Collection) -> None:
        try:
            self._db.run_statement(lambda conn: self._repo.store_collection(conn, scenario, key, collection))
        except Exception:
            logger.warning("the collection could not be cached", extra={"scenario": scenario})
