"""ExecutionHistoryService: the read side (what ran, what failed, since when).

Answers are JSON documents written by PostgreSQL (the repository's history views), handed to the
client as they are: no per-row Python objects on the hot read path. Their shapes are
SuiteExecutionSummary (list items) and SuiteExecutionResult (get, latest).
"""

from __future__ import annotations

from uuid import UUID

from testgenie.db import Database
from testgenie.errors import NotFoundError
from testgenie.execution.repository import SuiteExecutionRepository

EXECUTION_NOT_FOUND = "execution not found"


class ExecutionHistoryService:
    def __init__(self, db: Database, executions: SuiteExecutionRepository | None = None) -> None:
        self._db = db
        self._executions = executions or SuiteExecutionRepository()

    def list(self, scenario: str | None = None, limit: int = 50, offset: int = 0) -> str:
        """`{"items": [summary, ...], "count": n}`, newest first; count is this page's length."""
        items = self._db.run_statement(
            lambda conn: self._executions.list_recent(conn, scenario, limit, offset)
        )
        return f'{{"items": [{", ".join(items)}], "count": {len(items)}}}'

    def get(self, execution_id: UUID) -> str:
        """One execution with its phases (JSON)."""
        document = self._db.run_statement(lambda conn: self._executions.get_json(conn, execution_id))
        if document is None:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        return document

    def latest(self, scenario: str | None = None) -> str:
        """The most recently completed execution (JSON), optionally of one scenario."""
        document = self._db.run_statement(lambda conn: self._executions.latest(conn, scenario))
        if document is None:
            raise NotFoundError(
                "no execution recorded yet" if not scenario else f"no execution of '{scenario}' yet"
            )
        return document
