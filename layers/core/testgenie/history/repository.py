"""HistoryRepository: the read side's SQL. PostgreSQL only finds rows (index scans over a page or a
window, docs/performance.md); the answers' JSON is built by the caller (history/documents.py).

The fixed statements are in queries.sql. The executions page is the one statement built here: its
shape follows the filter (one index range per outcome or phase status, merged), so it is composed
from the page's parts, with the columns from queries.sql."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from testgenie.db import Connection, Row
from testgenie.history.filters import ExecutionFilter
from testgenie.orchestrator.models import PhaseStatus
from testgenie.paging import Keyset, uuid_key
from testgenie.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("queries.sql"))
SUMMARY_COLUMNS = QUERIES["summary_columns"]
_ALL_PHASE_STATUSES = tuple(status.value for status in PhaseStatus)


def executions_page_sql(query: ExecutionFilter, keyset: Keyset) -> tuple[str, list[Any]]:
    """One page, newest first. Every branch is an ordered index range on the filter's leading
    columns; several outcomes (or phase statuses) are one range each, merged (Merge Append)."""
    by_phase = query.phase is not None
    at, key = ("p.completed_at", "p.execution_id") if by_phase else ("e.completed_at", "e.id")
    source = (
        "suite_execution_phases p JOIN suite_executions e ON e.id = p.execution_id"
        if by_phase
        else ("suite_executions e")
    )
    shared, shared_params = _residual_conditions(query, at, by_phase)
    after = uuid_key(keyset.after)
    if after is not None:
        shared.append(f"({at}, {key}) < (%s, %s)")
        shared_params.extend(after)
    order = f"ORDER BY {at} DESC, {key} DESC LIMIT %s"
    branches: list[str] = []
    params: list[Any] = []
    for leading, leading_params in _leading_conditions(query, by_phase):
        where = " AND ".join([*leading, *shared]) or "TRUE"
        branches.append(f"SELECT {SUMMARY_COLUMNS}, {at} AS k_at, {key} AS k_id FROM {source} WHERE {where}")
        params.extend([*leading_params, *shared_params])
    if len(branches) == 1:
        return f"{branches[0]} {order} OFFSET %s", [*params, keyset.limit + 1, keyset.offset]
    # Each branch cut to the rows the page can need, so each is an index range with a limit.
    reach = keyset.limit + keyset.offset + 1
    union = " UNION ALL ".join(f"({branch} {order})" for branch in branches)
    sql = f"SELECT * FROM ({union}) AS u ORDER BY k_at DESC, k_id DESC LIMIT %s OFFSET %s"
    per_branch = [value for chunk in _chunks(params, len(branches)) for value in [*chunk, reach]]
    return sql, [*per_branch, keyset.limit + 1, keyset.offset]


def _chunks(values: list[Any], parts: int) -> list[list[Any]]:
    size = len(values) // parts
    return [values[i * size : (i + 1) * size] for i in range(parts)]


def executions_total_sql(query: ExecutionFilter) -> tuple[str, list[Any]]:
    """The number of executions matching the filter (asked for explicitly: it counts, it is not flat)."""
    by_phase = query.phase is not None
    at = "p.completed_at" if by_phase else "e.completed_at"
    conditions, params = _residual_conditions(query, at, by_phase)
    if query.scenario:
        conditions.append("p.scenario_name = %s" if by_phase else "e.scenario_name = %s")
        params.append(query.scenario)
    if by_phase:
        conditions += ["p.name = %s", "p.status = ANY(%s)"]
        params += [query.phase, list(query.phase_statuses or _ALL_PHASE_STATUSES)]
    elif query.outcomes:
        conditions.append("e.outcome = ANY(%s)")
        params.append(list(query.outcomes))
    source = (
        "suite_execution_phases p JOIN suite_executions e ON e.id = p.execution_id"
        if by_phase
        else ("suite_executions e")
    )
    return f"SELECT count(*) AS n FROM {source} WHERE {' AND '.join(conditions) or 'TRUE'}", params


def _leading_conditions(query: ExecutionFilter, by_phase: bool) -> list[tuple[list[str], list[Any]]]:
    scenario: tuple[list[str], list[Any]] = ([], [])
    if query.scenario:
        scenario = (["p.scenario_name = %s" if by_phase else "e.scenario_name = %s"], [query.scenario])
    if by_phase:
        statuses = query.phase_statuses or _ALL_PHASE_STATUSES
        return [
            ([*scenario[0], "p.name = %s", "p.status = %s"], [*scenario[1], query.phase, status])
            for status in statuses
        ]
    if not query.outcomes:
        return [scenario]
    return [([*scenario[0], "e.outcome = %s"], [*scenario[1], outcome]) for outcome in query.outcomes]


def _residual_conditions(query: ExecutionFilter, at: str, by_phase: bool) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if by_phase and query.outcomes:
        conditions.append("e.outcome = ANY(%s)")
        params.append(list(query.outcomes))
    for column, value in (("e.trigger", query.trigger), ("e.preset_used", query.preset)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    if query.since is not None:
        conditions.append(f"{at} >= %s")
        params.append(query.since)
    if query.until is not None:
        conditions.append(f"{at} <= %s")
        params.append(query.until)
    return conditions, params


class HistoryRepository:
    def executions_page(self, conn: Connection, query: ExecutionFilter, keyset: Keyset) -> list[Row]:
        """Up to limit + 1 rows (the extra one says whether there is a next page)."""
        sql, params = executions_page_sql(query, keyset)
        return conn.execute(sql, params).fetchall()

    def executions_total(self, conn: Connection, query: ExecutionFilter) -> int:
        sql, params = executions_total_sql(query)
        row = conn.execute(sql, params).fetchone()
        return int(row["n"]) if row else 0

    def execution(self, conn: Connection, execution_id: UUID) -> Row | None:
        return conn.execute(QUERIES["get_execution"], {"id": execution_id}).fetchone()

    def latest(self, conn: Connection, scenario: str | None) -> Row | None:
        if scenario:
            return conn.execute(QUERIES["latest_execution_of_scenario"], {"scenario": scenario}).fetchone()
        return conn.execute(QUERIES["latest_execution"]).fetchone()

    def with_previous(self, conn: Connection, execution_id: UUID) -> tuple[Row | None, Row | None]:
        """(the execution, the scenario's run just before it), each None when there is none."""
        row = conn.execute(QUERIES["compare_with_previous"], {"id": execution_id}).fetchone()
        if row is None:
            return None, None
        this = {key: row[key] for key in ("id", "scenario_name", "source_digest", "phases")}
        if row["base_id"] is None:
            return this, None
        return this, {
            "id": row["base_id"],
            "source_digest": row["base_source_digest"],
            "phases": row["base_phases"],
        }

    def executions_for_compare(self, conn: Connection, ids: list[UUID]) -> dict[UUID, Row]:
        return {
            row["id"]: row for row in conn.execute(QUERIES["executions_to_compare"], {"ids": ids}).fetchall()
        }

    def scenarios_page(self, conn: Connection, keyset: Keyset) -> list[Row]:
        if keyset.after is None:
            return conn.execute(QUERIES["scenarios"], {"limit": keyset.limit + 1}).fetchall()
        at, name = keyset.after
        return conn.execute(
            QUERIES["scenarios_after"], {"after_at": at, "after_name": name, "limit": keyset.limit + 1}
        ).fetchall()

    def stats_window(self, conn: Connection, scenario: str, window: int) -> list[Row]:
        return conn.execute(QUERIES["stats_window"], {"scenario": scenario, "window": window}).fetchall()

    def phase_errors(
        self, conn: Connection, pairs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], str | None]:
        """{(execution id, phase): its error} for these (execution id, phase) pairs."""
        ids = sorted({execution for execution, _ in pairs})
        names = sorted({name for _, name in pairs})
        rows = conn.execute(QUERIES["phase_errors"], {"ids": ids, "names": names}).fetchall()
        return {(r["id"], r["name"]): r["error"] for r in rows if (r["id"], r["name"]) in pairs}

    def last_activity(self, conn: Connection, scenario: str) -> datetime | None:
        row = conn.execute(QUERIES["last_activity"], {"scenario": scenario}).fetchone()
        return row["last_completed_at"] if row else None
