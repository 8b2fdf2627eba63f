"""SuiteExecutionRepository: the only place that speaks SQL about suite_executions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from testgenie.db import Connection
from testgenie.orchestrator.models import PhaseResult
from testgenie.records import SuiteExecutionRecord

MAX_EXECUTION_HISTORY = 50

_RECORD_COLUMNS = (
    "id, suite_request_id, scenario_name, preset_used, success, phases, started_at, completed_at, "
    "outcome, trigger, requested, warnings"
)
# The history views: PostgreSQL writes the API's JSON itself, so a read costs one query and no
# per-row Python objects (benchmarks/history.py). The shapes equal SuiteExecutionSummary /
# SuiteExecutionResult.to_json_dict(); tests/integration/core/test_history.py holds them equal.
UTC_TIMESTAMP_SQL = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
_COMMON_JSON_FIELDS = (
    "'executionId', id, 'suiteRequestId', suite_request_id, 'scenarioName', scenario_name, "
    f"'startedAt', {UTC_TIMESTAMP_SQL.format('started_at')}, "
    f"'completedAt', {UTC_TIMESTAMP_SQL.format('completed_at')}, "
    "'success', success, 'preset', preset_used, 'outcome', outcome, "
    "'phaseSummary', json_build_object('total', total, 'passed', passed, 'failed', failed, "
    "'skipped', skipped, 'durationSeconds', duration_seconds, 'observationCount', observation_count)"
)
# json (text), not jsonb: cheaper to build; phases are stored without nulls, so stripping is safe.
_SUMMARY_JSON = f"json_strip_nulls(json_build_object({_COMMON_JSON_FIELDS}, 'trigger', trigger, 'durationMs', duration_ms))::text"
_RESULT_JSON = f"json_strip_nulls(json_build_object({_COMMON_JSON_FIELDS}, 'warnings', warnings, 'phases', phases))::text"
_NEWEST_FIRST = "ORDER BY completed_at DESC, id DESC"
GET_SQL = f"SELECT {_RESULT_JSON} AS doc FROM suite_executions WHERE id = %s"


def list_sql(*, by_scenario: bool) -> str:
    """Params: ([scenario,] limit, offset). Served by the (scenario_name,) completed_at, id indexes.

    The page is cut in a subquery first, so rows skipped by OFFSET are never turned into JSON.
    """
    where = "WHERE scenario_name = %s " if by_scenario else ""
    page = f"SELECT * FROM suite_executions {where}{_NEWEST_FIRST} LIMIT %s OFFSET %s"
    return f"SELECT {_SUMMARY_JSON} AS doc FROM ({page}) AS page {_NEWEST_FIRST}"


def latest_sql(*, by_scenario: bool) -> str:
    where = "WHERE scenario_name = %s " if by_scenario else ""
    return f"SELECT {_RESULT_JSON} AS doc FROM suite_executions {where}{_NEWEST_FIRST} LIMIT 1"


_INSERT_COLUMNS = (
    "id, suite_request_id, scenario_name, preset_used, success, phases, started_at, completed_at, "
    "outcome, trigger, requested, warnings, total, passed, failed, skipped, duration_seconds, "
    "observation_count, duration_ms"
)


def clamp_page(limit: int, offset: int) -> tuple[int, int]:
    """The seed's paging: limit default and max 50, offset at least 0."""
    if limit <= 0 or limit > MAX_EXECUTION_HISTORY:
        limit = MAX_EXECUTION_HISTORY
    return limit, max(offset, 0)


class SuiteExecutionRepository:
    def create(self, conn: Connection, record: SuiteExecutionRecord) -> None:
        placeholders = ", ".join(["%s"] * 19)
        conn.execute(
            f"INSERT INTO suite_executions ({_INSERT_COLUMNS}) VALUES ({placeholders})",
            _insert_params(record),
        )

    def copy_many(self, conn: Connection, records: Iterable[SuiteExecutionRecord]) -> int:
        """Bulk load with COPY (benchmarks, imports); same columns as create."""
        count = 0
        with conn.cursor() as cur, cur.copy(f"COPY suite_executions ({_INSERT_COLUMNS}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(_insert_params(record))
                count += 1
        return count

    def list_recent(self, conn: Connection, scenario: str | None, limit: int, offset: int) -> list[str]:
        """A page of summaries, newest first, as JSON objects (the history API's items)."""
        limit, offset = clamp_page(limit, offset)
        scenario = (scenario or "").strip()
        params = (scenario, limit, offset) if scenario else (limit, offset)
        rows = conn.execute(list_sql(by_scenario=bool(scenario)), params).fetchall()
        return [row["doc"] for row in rows]

    def get_json(self, conn: Connection, execution_id: UUID) -> str | None:
        """One execution with its phases, as the API's JSON."""
        row = conn.execute(GET_SQL, (execution_id,)).fetchone()
        return row["doc"] if row else None

    def latest(self, conn: Connection, scenario: str | None = None) -> str | None:
        """The most recently completed execution (optionally of one scenario), as the API's JSON."""
        scenario = (scenario or "").strip()
        row = conn.execute(latest_sql(by_scenario=bool(scenario)), (scenario,) if scenario else ()).fetchone()
        return row["doc"] if row else None

    def get_by_id(self, conn: Connection, execution_id: UUID) -> SuiteExecutionRecord | None:
        row = conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM suite_executions WHERE id = %s", (execution_id,)
        ).fetchone()
        return _record_from_row(row) if row else None

    def get_by_request(self, conn: Connection, suite_request_id: UUID) -> SuiteExecutionRecord | None:
        row = conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM suite_executions WHERE suite_request_id = %s",
            (suite_request_id,),
        ).fetchone()
        return _record_from_row(row) if row else None

    def count(self, conn: Connection) -> int:
        row = conn.execute("SELECT COUNT(*) AS n FROM suite_executions").fetchone()
        return int(row["n"]) if row else 0


def _insert_params(record: SuiteExecutionRecord) -> tuple[Any, ...]:
    summary = record.summary
    return (
        record.id,
        record.suite_request_id,
        record.scenario_name,
        record.preset_used or None,
        record.success,
        Jsonb([phase.to_json_dict() for phase in record.phases]),
        record.started_at,
        record.completed_at,
        record.outcome.value,
        record.trigger.value,
        Jsonb(record.requested) if record.requested is not None else None,
        Jsonb(record.warnings) if record.warnings else None,
        summary.total,
        summary.passed,
        summary.failed,
        summary.skipped,
        summary.duration_seconds,
        summary.observation_count,
        record.duration_ms,
    )


def _record_from_row(row: dict[str, Any]) -> SuiteExecutionRecord:
    return SuiteExecutionRecord(
        id=row["id"],
        suite_request_id=row["suite_request_id"],
        scenario_name=row["scenario_name"],
        preset_used=row["preset_used"],
        success=row["success"],
        phases=[PhaseResult.model_validate(item) for item in row["phases"] or []],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        outcome=row["outcome"],
        trigger=row["trigger"],
        requested=row["requested"],
        warnings=row["warnings"],
    )
