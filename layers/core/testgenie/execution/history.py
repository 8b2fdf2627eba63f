"""ExecutionHistoryService: the read side (what ran, what failed, since when, is it flaky).

PostgreSQL finds the rows (index scans over a page or a window); the answers' JSON is built here,
in the function (history/documents.py, docs/performance.md).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from testgenie.db import Connection, Transactions
from testgenie.errors import NotFoundError, ValidationError
from testgenie.history.compare import compare_executions
from testgenie.history.documents import page_document, result_document, summary_item, timestamp
from testgenie.history.filters import EXECUTIONS_CURSOR, SCENARIOS_CURSOR, ExecutionFilter
from testgenie.history.repository import HistoryRepository
from testgenie.history.stats import scenario_stats
from testgenie.history.window import SUMMARY_WINDOW
from testgenie.paging import Keyset, encode_cursor

EXECUTION_NOT_FOUND = "execution not found"
MAX_STATS_WINDOW = 500
Row = dict[str, Any]


class ExecutionHistoryService:
    def __init__(self, db: Transactions, history: HistoryRepository) -> None:
        self._db = db
        self._history = history

    def list(
        self, query: ExecutionFilter | None = None, keyset: Keyset | None = None, include_total: bool = False
    ) -> str:
        """`{"items": [summary, ...], "count": n, "nextCursor": ...}`, newest first."""
        query, keyset = query or ExecutionFilter(), keyset or Keyset()
        rows = self._db.run_statement(lambda conn: self._history.executions_page(conn, query, keyset))
        page, more = rows[: keyset.limit], len(rows) > keyset.limit
        next_cursor = encode_cursor(EXECUTIONS_CURSOR, page[-1][-2], page[-1][-1]) if more else None
        total = None
        if include_total:
            total = self._db.run_statement(lambda conn: self._history.executions_total(conn, query))
        return page_document([summary_item(row) for row in page], next_cursor, total)

    def get(self, execution_id: UUID) -> str:
        """One execution with its phases (JSON)."""
        row = self._db.run_statement(lambda conn: self._history.execution(conn, execution_id))
        if row is None:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        return result_document(row)

    def latest(self, scenario: str | None = None) -> str:
        """The most recently completed execution (JSON), optionally of one scenario."""
        row = self._db.run_statement(lambda conn: self._history.latest(conn, scenario))
        if row is None:
            raise NotFoundError(
                "no execution recorded yet" if not scenario else f"no execution of '{scenario}' yet"
            )
        return result_document(row)

    def scenarios(self, keyset: Keyset | None = None) -> str:
        """Every scenario with executions, newest activity first, from the scenario summaries."""
        keyset = keyset or Keyset()
        rows = self._db.run_statement(lambda conn: self._history.scenarios_page(conn, keyset))
        page, more = rows[: keyset.limit], len(rows) > keyset.limit
        next_cursor = encode_cursor(SCENARIOS_CURSOR, page[-1][3], page[-1][0]) if more else None
        return page_document([_scenario_item(row) for row in page], next_cursor)

    def stats(self, scenario: str, window: int = SUMMARY_WINDOW) -> dict[str, Any]:
        if not 1 <= window <= MAX_STATS_WINDOW:
            raise ValidationError(f"window must be 1 to {MAX_STATS_WINDOW}")
        rows = self._db.run_statement(lambda conn: self._history.stats_window(conn, scenario, window))
        if not rows:
            raise NotFoundError(f"no execution of '{scenario}' recorded")
        return scenario_stats(scenario, window, rows)

    def compare(self, execution_id: UUID, base: UUID | None) -> dict[str, Any]:
        """What changed from `base` (None: the scenario's previous run) to `execution_id`."""

        def work(conn: Connection) -> tuple[Row | None, Row | None]:
            other = base or self._history.previous_id(conn, execution_id)
            found = self._history.executions_for_compare(conn, [execution_id, *([other] if other else [])])
            return found.get(execution_id), found.get(other) if other else None

        this, before = self._db.run(work)
        if this is None:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        if before is None:
            raise NotFoundError(
                "no previous execution of this scenario"
                if base is None
                else "execution to compare with not found"
            )
        return compare_executions(this, before)


def _scenario_item(row: tuple[Any, ...]) -> dict[str, Any]:
    runs = row[4]
    return {
        "scenarioName": row[0],
        "lastExecution": {"executionId": str(row[1]), "outcome": row[2], "completedAt": timestamp(row[3])},
        "window": SUMMARY_WINDOW,
        "runs": runs,
        "passRate": row[5] / runs if runs else 0.0,
        "medianDurationMs": row[6],
        "recentOutcomes": row[7],
        "flakyPhases": row[8],
    }
