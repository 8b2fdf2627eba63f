"""SuiteExecutionRepository: the only place that speaks SQL about suite_executions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from testgenie.db import Connection
from testgenie.execution.record import SuiteExecutionRecord, SuiteExecutionSummary
from testgenie.orchestrator.models import PhaseResult, PhaseSummary

MAX_EXECUTION_HISTORY = 50

_SUMMARY_COLUMNS = (
    "id, suite_request_id, scenario_name, preset_used, success, started_at, completed_at, outcome, "
    "trigger, total, passed, failed, skipped, duration_seconds, observation_count, duration_ms"
)
_RECORD_COLUMNS = (
    "id, suite_request_id, scenario_name, preset_used, success, phases, started_at, completed_at, "
    "outcome, trigger, requested, warnings"
)
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

    def list_recent(
        self, conn: Connection, scenario: str | None, limit: int, offset: int
    ) -> list[SuiteExecutionSummary]:
        limit, offset = clamp_page(limit, offset)
        scenario = (scenario or "").strip()
        if scenario:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM suite_executions WHERE scenario_name = %s "
                "ORDER BY completed_at DESC, id DESC LIMIT %s OFFSET %s",
                (scenario, limit, offset),
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM suite_executions "
                "ORDER BY completed_at DESC, id DESC LIMIT %s OFFSET %s",
                (limit, offset),
            ).fetchall()
        return [_summary_from_row(row) for row in rows]

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

    def latest(self, conn: Connection, scenario: str | None = None) -> SuiteExecutionRecord | None:
        scenario = (scenario or "").strip()
        if scenario:
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM suite_executions WHERE scenario_name = %s "
                "ORDER BY completed_at DESC, id DESC LIMIT 1",
                (scenario,),
            ).fetchone()
        else:
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM suite_executions ORDER BY completed_at DESC, id DESC LIMIT 1"
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


def _summary_from_row(row: dict[str, Any]) -> SuiteExecutionSummary:
    return SuiteExecutionSummary(
        execution_id=row["id"],
        suite_request_id=row["suite_request_id"],
        scenario_name=row["scenario_name"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        success=row["success"],
        preset=row["preset_used"],
        outcome=row["outcome"],
        trigger=row["trigger"],
        duration_ms=row["duration_ms"],
        phase_summary=PhaseSummary(
            total=row["total"],
            passed=row["passed"],
            failed=row["failed"],
            skipped=row["skipped"],
            duration_seconds=row["duration_seconds"],
            observation_count=row["observation_count"],
        ),
    )
