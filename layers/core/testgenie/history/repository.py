"""HistoryRepository: the read side's SQL. PostgreSQL only finds rows (index scans over a page or a
window, docs/performance.md); the answers' JSON is built by the caller (history/documents.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import tuple_row

from testgenie.db import Connection
from testgenie.history.filters import ExecutionFilter
from testgenie.orchestrator.models import PhaseStatus
from testgenie.paging import Keyset, uuid_key

Row = tuple[Any, ...]

# The columns of a list item, in the order history/documents.py reads them. Ids arrive as text: a
# page's JSON needs their text, not 100 UUID objects made and formatted again (docs/performance.md).
SUMMARY_COLUMNS = (
    "e.id::text, e.suite_request_id::text, e.scenario_name, e.started_at, e.completed_at, e.success, e.preset_used, "
    "e.outcome, e.trigger, e.duration_ms, e.total, e.passed, e.failed, e.skipped, e.duration_seconds, "
    "e.observation_count, e.source_digest"
)
# ... and of one execution with its phases (the phases JSON arrives as text, never parsed here).
RESULT_COLUMNS = (
    "e.id, e.suite_request_id, e.scenario_name, e.started_at, e.completed_at, e.success, e.preset_used, "
    "e.outcome, e.total, e.passed, e.failed, e.skipped, e.duration_seconds, e.observation_count, "
    "e.warnings, e.source_digest, e.trigger, e.phases::text"
)
_NEWEST_FIRST = "ORDER BY e.completed_at DESC, e.id DESC"
GET_EXECUTION_SQL = f"SELECT {RESULT_COLUMNS} FROM suite_executions e WHERE e.id = %s"
LATEST_SQL = f"SELECT {RESULT_COLUMNS} FROM suite_executions e {_NEWEST_FIRST} LIMIT 1"
LATEST_OF_SCENARIO_SQL = (
    f"SELECT {RESULT_COLUMNS} FROM suite_executions e WHERE e.scenario_name = %s {_NEWEST_FIRST} LIMIT 1"
)
# An execution with the run of the same scenario just before it (compare ?with=previous), in one
# statement: a primary-key lookup and one step down the scenario's newest-first index.
COMPARE_PREVIOUS_SQL = (
    "SELECT e.id, e.scenario_name, e.source_digest, e.phases, "
    "p.id AS base_id, p.source_digest AS base_source_digest, p.phases AS base_phases "
    "FROM suite_executions e LEFT JOIN LATERAL (SELECT x.id, x.source_digest, x.phases "
    "FROM suite_executions x WHERE x.scenario_name = e.scenario_name "
    "AND (x.completed_at, x.id) < (e.completed_at, e.id) "
    "ORDER BY x.completed_at DESC, x.id DESC LIMIT 1) AS p ON TRUE WHERE e.id = %s"
)
COMPARE_SQL = (
    "SELECT e.id, e.scenario_name, e.source_digest, e.phases FROM suite_executions e WHERE e.id = ANY(%s)"
)
SCENARIO_COLUMNS = (
    "s.scenario_name, s.last_execution_id, s.last_outcome, s.last_completed_at, s.runs, s.passed_runs, "
    "s.median_duration_ms, s.recent_outcomes, s.flaky_phases"
)
SCENARIOS_SQL = (
    f"SELECT {SCENARIO_COLUMNS} FROM scenario_summaries s "
    "ORDER BY s.last_completed_at DESC, s.scenario_name DESC LIMIT %s"
)
SCENARIOS_AFTER_SQL = (
    f"SELECT {SCENARIO_COLUMNS} FROM scenario_summaries s "
    "WHERE (s.last_completed_at, s.scenario_name) < (%s, %s) "
    "ORDER BY s.last_completed_at DESC, s.scenario_name DESC LIMIT %s"
)
# The statistics window: the newest N runs of a scenario and their phase rows (one index range and
# N primary-key lookups; never more than the window).
STATS_WINDOW_SQL = (
    "SELECT w.id, w.completed_at, w.outcome, w.source_digest, p.name, p.status, p.duration_ms, "
    "p.classification, p.failing_tests FROM (SELECT e.id, e.completed_at, e.outcome, e.source_digest "
    "FROM suite_executions e WHERE e.scenario_name = %s ORDER BY e.completed_at DESC, e.id DESC LIMIT %s) "
    "AS w LEFT JOIN suite_execution_phases p ON p.execution_id = w.id "
    "ORDER BY w.completed_at, w.id"
)
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
    return f"SELECT count(*) FROM {source} WHERE {' AND '.join(conditions) or 'TRUE'}", params


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
        with conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(sql, params).fetchall()

    def executions_total(self, conn: Connection, query: ExecutionFilter) -> int:
        sql, params = executions_total_sql(query)
        with conn.cursor(row_factory=tuple_row) as cur:
            row = cur.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def execution(self, conn: Connection, execution_id: UUID) -> Row | None:
        with conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(GET_EXECUTION_SQL, (execution_id,)).fetchone()

    def latest(self, conn: Connection, scenario: str | None) -> Row | None:
        with conn.cursor(row_factory=tuple_row) as cur:
            if scenario:
                return cur.execute(LATEST_OF_SCENARIO_SQL, (scenario,)).fetchone()
            return cur.execute(LATEST_SQL).fetchone()

    def with_previous(
        self, conn: Connection, execution_id: UUID
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the execution, the scenario's run just before it), each None when there is none."""
        row = conn.execute(COMPARE_PREVIOUS_SQL, (execution_id,)).fetchone()
        if row is None:
            return None, None
        before = None
        if row["base_id"] is not None:
            before = {
                "id": row["base_id"],
                "source_digest": row["base_source_digest"],
                "phases": row["base_phases"],
            }
        return {key: row[key] for key in ("id", "scenario_name", "source_digest", "phases")}, before

    def executions_for_compare(self, conn: Connection, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        return {row["id"]: row for row in conn.execute(COMPARE_SQL, (ids,)).fetchall()}

    def scenarios_page(self, conn: Connection, keyset: Keyset) -> list[Row]:
        with conn.cursor(row_factory=tuple_row) as cur:
            if keyset.after is None:
                return cur.execute(SCENARIOS_SQL, (keyset.limit + 1,)).fetchall()
            at, name = keyset.after
            return cur.execute(SCENARIOS_AFTER_SQL, (at, name, keyset.limit + 1)).fetchall()

    def stats_window(self, conn: Connection, scenario: str, window: int) -> list[dict[str, Any]]:
        return conn.execute(STATS_WINDOW_SQL, (scenario, window)).fetchall()

    def last_activity(self, conn: Connection, scenario: str) -> datetime | None:
        row = conn.execute(
            "SELECT last_completed_at FROM scenario_summaries WHERE scenario_name = %s", (scenario,)
        ).fetchone()
        return row["last_completed_at"] if row else None
