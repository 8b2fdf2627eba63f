"""ExecutionStore: what the write-side services need of suite_executions (the record, pins, retention).

`SuiteExecutionRepository` (PostgreSQL) is the one the services run on; tests/support/fakes.py holds
one in memory. The history reads (execution/history.py, history/) stay on PostgreSQL only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from testgenie.db import Connection
from testgenie.execution.repository import ExpiredExecution
from testgenie.records import SuiteExecutionRecord


class ExecutionStore(Protocol):
    def create(self, conn: Connection, record: SuiteExecutionRecord) -> None:
        """The execution (its phase rows, its scenario's summary) in the caller's transaction."""
        ...

    def get_by_id(self, conn: Connection, execution_id: UUID) -> SuiteExecutionRecord | None: ...

    def get_by_request(self, conn: Connection, suite_request_id: UUID) -> SuiteExecutionRecord | None: ...

    def set_pinned(self, conn: Connection, execution_id: UUID, pinned: bool) -> bool: ...

    def delete_expired(
        self, conn: Connection, older_than: datetime, batch: int
    ) -> list[ExpiredExecution]: ...

    def rebuild_summary(self, conn: Connection, scenario: str) -> None: ...
