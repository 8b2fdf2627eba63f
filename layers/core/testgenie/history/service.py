"""ExecutionHistoryService: the read side (what ran, what failed, since when, is it flaky).

PostgreSQL finds the rows (index scans over a page or a window); the answers' JSON is built here,
in the function (history/documents.py, docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from testgenie.db import Connection, Row, Transactions
from testgenie.errors import NotFoundError, ValidationError
from testgenie.history.compare import compare_executions
from testgenie.history.documents import page_document, result_document, summary_item, timestamp
from testgenie.history.filters import EXECUTIONS_CURSOR, SCENARIOS_CURSOR, ExecutionFilter
from testgenie.history.repository import HistoryRepository
from testgenie.history.stats import scenario_stats
from testgenie.history.window import SUMMARY_WINDOW
from testgenie.orchestrator.planning.catalog import PHASES_BY_NAME
from testgenie.paging import Keyset, encode_cursor
from testgenie.records import EXECUTION_NOT_FOUND
from testgenie.suggest import did_you_mean

MAX_STATS_WINDOW = 500


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
        next_cursor = encode_cursor(EXECUTIONS_CURSOR, page[-1]["k_at"], page[-1]["k_id"]) if more else None
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

    def missing_log(self, execution_id: UUID, phase: str) -> NotFoundError:
        """Why there is no log of `phase`: no such execution, no such phase, or a phase that did not run
        (or ran without writing one)."""
        row = self._db.run_statement(lambda conn: self._history.execution(conn, execution_id))
        if row is None:
            return NotFoundError(f"execution {execution_id} not found")
        ran = {str(p.get("name")): str(p.get("status")) for p in json.loads(row["phases"] or "[]")}
        listed = ", ".join(ran) or "no phase"
        if phase in ran:
            return NotFoundError(f"phase '{phase}' of execution {execution_id} has no log ({ran[phase]})")
        if phase not in PHASES_BY_NAME:
            hint = did_you_mean(phase, [*ran, *PHASES_BY_NAME])
            return NotFoundError(f"phase '{phase}' is unknown{hint} (execution {execution_id} ran: {listed})")
        return NotFoundError(
            f"phase '{phase}' did not run in execution {execution_id}{did_you_mean(phase, ran)} "
            f"(it ran: {listed})"
        )

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
        next_cursor = (
            encode_cursor(SCENARIOS_CURSOR, page[-1]["last_completed_at"], page[-1]["scenario_name"])
            if more
            else None
        )
        return page_document([_scenario_item(row) for row in page], next_cursor)

    def stats(self, scenario: str, window: int = SUMMARY_WINDOW) -> dict[str, Any]:
        if not 1 <= window <= MAX_STATS_WINDOW:
            raise ValidationError(f"window must be 1 to {MAX_STATS_WINDOW}")
        rows = self._db.run_statement(lambda conn: self._history.stats_window(conn, scenario, window))
        if not rows:
            raise NotFoundError(f"no execution of '{scenario}' recorded")
        stats = scenario_stats(scenario, window, rows)
        self._add_failure_errors(stats["phases"])
        return stats

    def _add_failure_errors(self, phases: Iterable[dict[str, Any]]) -> None:
        """A last failure's phase error when no failing test says what went wrong (a standards command,
        a missing dependency). Read from those few records only, so a window whose failures have
        failing tests costs no second query."""
        wanted = {
            (p["lastFailure"]["executionId"], p["name"])
            for p in phases
            if p["lastFailure"] and not p["lastFailure"]["signature"]
        }
        errors = (
            self._db.run_statement(lambda conn: self._history.phase_errors(conn, wanted)) if wanted else {}
        )
        for phase in phases:
            if phase["lastFailure"]:
                key = (phase["lastFailure"]["executionId"], phase["name"])
                phase["lastFailure"]["error"] = errors.get(key)

    def compare(self, execution_id: UUID, base: UUID | None) -> dict[str, Any]:
        """What changed from `base` (None: the scenario's previous run) to `execution_id`."""

        def work(conn: Connection) -> tuple[Row | None, Row | None]:
            if base is None:
                return self._history.with_previous(conn, execution_id)
            found = self._history.executions_for_compare(conn, [execution_id, base])
            return found.get(execution_id), found.get(base)

        # One statement either way: no BEGIN/COMMIT round trips (docs/performance.md).
        this, before = self._db.run_statement(work)
        if this is None:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        if before is None:
            raise NotFoundError(
                "no previous execution of this scenario"
                if base is None
                else "execution to compare with not found"
            )
        return compare_executions(this, before)


def _scenario_item(row: Row) -> dict[str, Any]:
    runs = row["runs"]
    return {
        "scenarioName": row["scenario_name"],
        "lastExecution": {
            "executionId": str(row["last_execution_id"]),
            "outcome": row["last_outcome"],
            "completedAt": timestamp(row["last_completed_at"]),
        },
        "window": SUMMARY_WINDOW,
        "runs": runs,
        "passRate": row["passed_runs"] / runs if runs else 0.0,
        "medianDurationMs": row["median_duration_ms"],
        "recentOutcomes": row["recent_outcomes"],
        "flakyPhases": row["flaky_phases"],
    }
