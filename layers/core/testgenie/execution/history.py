"""ExecutionHistoryService: the read side (what ran, what failed, since when)."""

from __future__ import annotations

from uuid import UUID

from testgenie.db import Database
from testgenie.errors import NotFoundError
from testgenie.execution.record import SuiteExecutionSummary
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.orchestrator.models import SuiteExecutionResult

EXECUTION_NOT_FOUND = "execution not found"


class ExecutionHistoryService:
    def __init__(self, db: Database, executions: SuiteExecutionRepository | None = None) -> None:
        self._db = db
        self._executions = executions or SuiteExecutionRepository()

    def list(
        self, scenario: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SuiteExecutionSummary]:
        return self._db.read(lambda conn: self._executions.list_recent(conn, scenario, limit, offset))

    def get(self, execution_id: UUID) -> SuiteExecutionResult:
        record = self._db.read(lambda conn: self._executions.get_by_id(conn, execution_id))
        if record is None:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        return record.to_execution_result()

    def latest(self, scenario: str | None = None) -> SuiteExecutionResult:
        record = self._db.read(lambda conn: self._executions.latest(conn, scenario))
        if record is None:
            raise NotFoundError(
                "no execution recorded yet" if not scenario else f"no execution of '{scenario}' yet"
            )
        return record.to_execution_result()
