"""SuiteExecutionRepository: the write side of suite_executions, its phase rows and scenario summaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from testgenie.db import Connection
from testgenie.history.window import SUMMARY_WINDOW, newest_first, summary_entry, window_figures
from testgenie.models_base import iso_utc
from testgenie.orchestrator.models import PhaseResult
from testgenie.records import SuiteExecutionRecord
from testgenie.shards.repository import TestTimingRepository

_RECORD_COLUMNS = (
    "id, suite_request_id, scenario_name, preset_used, success, phases, started_at, completed_at, "
    "outcome, trigger, requested, warnings, source_digest"
)
_INSERT_COLUMNS = (
    "id, suite_request_id, scenario_name, preset_used, success, phases, started_at, completed_at, "
    "outcome, trigger, requested, warnings, total, passed, failed, skipped, duration_seconds, "
    "observation_count, duration_ms, source_digest"
)
INSERT_EXECUTION_SQL = f"INSERT INTO suite_executions ({_INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * 20)})"
# The per-phase rows behind ?phase= and the statistics (docs/database.md), in one statement.
INSERT_PHASES_SQL = (
    "INSERT INTO suite_execution_phases (execution_id, name, scenario_name, completed_at, status, "
    "duration_ms, classification, failing_tests) "
    "SELECT %s, x.name, %s, %s, x.status, x.ms, x.cls, x.failing FROM jsonb_to_recordset(%s::jsonb) "
    "AS x(name TEXT, status TEXT, ms BIGINT, cls TEXT, failing JSONB) ON CONFLICT DO NOTHING"
)
# The scenario summary row is locked for the rest of the recording transaction, so concurrent
# recordings of one scenario merge one after the other and none is lost.
LOCK_SUMMARY_SQL = "SELECT recent FROM scenario_summaries WHERE scenario_name = %s FOR UPDATE"
_SUMMARY_VALUES = (
    "last_execution_id = %(last_id)s, last_outcome = %(last_outcome)s, last_completed_at = %(last_at)s, "
    "recent = %(recent)s, runs = %(runs)s, passed_runs = %(passed_runs)s, "
    "median_duration_ms = %(median)s, flaky_phases = %(flaky)s, recent_outcomes = %(outcomes)s"
)
INSERT_SUMMARY_SQL = (
    "INSERT INTO scenario_summaries (scenario_name, last_execution_id, last_outcome, last_completed_at, "
    "recent, runs, passed_runs, median_duration_ms, flaky_phases, recent_outcomes) VALUES "
    "(%(scenario)s, %(last_id)s, %(last_outcome)s, %(last_at)s, %(recent)s, %(runs)s, %(passed_runs)s, "
    "%(median)s, %(flaky)s, %(outcomes)s) ON CONFLICT (scenario_name) DO NOTHING RETURNING 1"
)
UPDATE_SUMMARY_SQL = f"UPDATE scenario_summaries SET {_SUMMARY_VALUES} WHERE scenario_name = %(scenario)s"
UPSERT_SUMMARY_SQL = INSERT_SUMMARY_SQL.replace("DO NOTHING RETURNING 1", f"DO UPDATE SET {_SUMMARY_VALUES}")
DELETE_SUMMARY_SQL = "DELETE FROM scenario_summaries WHERE scenario_name = %s"
# A from-scratch window of one scenario (retention uses it after deleting runs).
WINDOW_ENTRIES_SQL = (
    "SELECT e.id, e.completed_at, e.outcome, e.duration_ms, e.source_digest, "
    "ARRAY(SELECT p.name || '=' || p.status FROM suite_execution_phases p WHERE p.execution_id = e.id) "
    "AS phases FROM suite_executions e WHERE e.scenario_name = %s "
    "ORDER BY e.completed_at DESC, e.id DESC LIMIT %s"
)
# Retention: the oldest unpinned executions, a bounded batch at a time; SKIP LOCKED so it never waits
# on (or blocks) a recording. Served by idx_suite_executions_completed read backwards.
DELETE_EXPIRED_SQL = (
    "DELETE FROM suite_executions WHERE id IN (SELECT id FROM suite_executions "
    "WHERE completed_at < %s AND NOT pinned ORDER BY completed_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
    "RETURNING id, scenario_name, ARRAY(SELECT p->>'logPath' FROM jsonb_array_elements(phases) AS p "
    "WHERE COALESCE(p->>'logPath', '') <> '') AS logs"
)
SET_PINNED_SQL = "UPDATE suite_executions SET pinned = %s WHERE id = %s RETURNING id"


@dataclass(frozen=True)
class ExpiredExecution:
    id: UUID
    scenario_name: str
    log_paths: list[str]


class SuiteExecutionRepository:
    def create(self, conn: Connection, record: SuiteExecutionRecord) -> None:
        """The execution, its phase rows and its scenario's summary, in the caller's transaction."""
        conn.execute(INSERT_EXECUTION_SQL, _insert_params(record))
        if record.phases:
            conn.execute(
                INSERT_PHASES_SQL,
                (record.id, record.scenario_name, record.completed_at, Jsonb(_phase_rows(record))),
            )
        entry = summary_entry(
            str(record.id),
            iso_utc(record.completed_at),
            record.outcome.value,
            record.duration_ms,
            record.source_digest,
            [(phase.name, phase.status.value) for phase in record.phases],
        )
        if record.test_timings:
            TestTimingRepository().record(conn, record.scenario_name, record.test_timings)
        self._merge_summary(conn, record.scenario_name, [entry])

    def _merge_summary(self, conn: Connection, scenario: str, entries: list[dict[str, Any]]) -> None:
        row = conn.execute(LOCK_SUMMARY_SQL, (scenario,)).fetchone()
        if row is None:
            params = _summary_params(scenario, newest_first(entries))
            if conn.execute(INSERT_SUMMARY_SQL, params).fetchone() is not None:
                return
            row = conn.execute(LOCK_SUMMARY_SQL, (scenario,)).fetchone()  # a concurrent first run won
            assert row is not None
        conn.execute(UPDATE_SUMMARY_SQL, _summary_params(scenario, newest_first([*row["recent"], *entries])))

    def rebuild_summary(self, conn: Connection, scenario: str) -> None:
        """Recompute one scenario's summary from its newest executions (none left: no summary)."""
        conn.execute(LOCK_SUMMARY_SQL, (scenario,))  # then read the window in a newer snapshot
        rows = conn.execute(WINDOW_ENTRIES_SQL, (scenario, SUMMARY_WINDOW)).fetchall()
        if not rows:
            conn.execute(DELETE_SUMMARY_SQL, (scenario,))
            return
        entries = [
            summary_entry(
                str(row["id"]),
                iso_utc(row["completed_at"]),
                row["outcome"],
                int(row["duration_ms"]),
                row["source_digest"],
                [tuple(item.rsplit("=", 1)) for item in row["phases"]],
            )
            for row in rows
        ]
        conn.execute(UPSERT_SUMMARY_SQL, _summary_params(scenario, entries))

    def delete_expired(self, conn: Connection, older_than: datetime, batch: int) -> list[ExpiredExecution]:
        """Delete up to `batch` unpinned executions completed before `older_than` (their phase rows go
        with them); what was deleted, with its log paths."""
        rows = conn.execute(DELETE_EXPIRED_SQL, (older_than, batch)).fetchall()
        return [ExpiredExecution(row["id"], row["scenario_name"], list(row["logs"] or [])) for row in rows]

    def set_pinned(self, conn: Connection, execution_id: UUID, pinned: bool) -> bool:
        """False when there is no such execution."""
        return conn.execute(SET_PINNED_SQL, (pinned, execution_id)).fetchone() is not None

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


def _phase_rows(record: SuiteExecutionRecord) -> list[dict[str, Any]]:
    return [
        {
            "name": phase.name,
            "status": phase.status.value,
            "ms": phase.duration_ms,
            "cls": phase.classification.value if phase.classification else None,
            "failing": [test.to_json_dict() for test in phase.failing_tests] if phase.failing_tests else None,
        }
        for phase in record.phases
    ]


def _summary_params(scenario: str, recent: list[dict[str, Any]]) -> dict[str, Any]:
    figures = window_figures(recent)
    newest = recent[0]
    return {
        "scenario": scenario,
        "last_id": newest["id"],
        "last_outcome": newest["outcome"],
        "last_at": newest["at"],
        "recent": Jsonb(recent),
        "runs": figures.runs,
        "passed_runs": figures.passed_runs,
        "median": figures.median_duration_ms,
        "flaky": figures.flaky_phases,
        "outcomes": figures.recent_outcomes,
    }


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
        record.source_digest,
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
        source_digest=row["source_digest"],
    )
