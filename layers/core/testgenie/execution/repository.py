"""SuiteExecutionRepository: the write side of suite_executions, its phase rows and scenario summaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from testgenie.db import Connection
from testgenie.history.window import SUMMARY_WINDOW, newest_first, summary_entry, window_figures
from testgenie.models_base import iso_utc
from testgenie.orchestrator.models import PhaseResult
from testgenie.records import SuiteExecutionRecord
from testgenie.shards.repository import TestTimingRepository
from testgenie.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True)
class ExpiredExecution:
    id: UUID
    scenario_name: str
    log_paths: list[str]


class SuiteExecutionRepository:
    def create(self, conn: Connection, record: SuiteExecutionRecord) -> None:
        """The execution, its phase rows and its scenario's summary, in the caller's transaction."""
        conn.execute(QUERIES["insert_execution"], _insert_params(record))
        if record.phases:
            conn.execute(
                QUERIES["insert_phases"],
                {
                    "execution_id": record.id,
                    "scenario_name": record.scenario_name,
                    "completed_at": record.completed_at,
                    "phases": Jsonb(_phase_rows(record)),
                },
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
        row = conn.execute(QUERIES["lock_summary"], {"scenario": scenario}).fetchone()
        if row is None:
            params = _summary_params(scenario, newest_first(entries))
            if conn.execute(QUERIES["insert_summary"], params).fetchone() is not None:
                return
            # a concurrent first run won
            row = conn.execute(QUERIES["lock_summary"], {"scenario": scenario}).fetchone()
            assert row is not None
        recent = newest_first([*row["recent"], *entries])
        conn.execute(QUERIES["update_summary"], _summary_params(scenario, recent))

    def rebuild_summary(self, conn: Connection, scenario: str) -> None:
        """Recompute one scenario's summary from its newest executions (none left: no summary)."""
        conn.execute(QUERIES["lock_summary"], {"scenario": scenario})  # then read in a newer snapshot
        rows = conn.execute(
            QUERIES["window_entries"], {"scenario": scenario, "window": SUMMARY_WINDOW}
        ).fetchall()
        if not rows:
            conn.execute(QUERIES["delete_summary"], {"scenario": scenario})
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
        conn.execute(QUERIES["upsert_summary"], _summary_params(scenario, entries))

    def delete_expired(self, conn: Connection, older_than: datetime, batch: int) -> list[ExpiredExecution]:
        """Delete up to `batch` unpinned executions completed before `older_than` (their phase rows go
        with them); what was deleted, with its log paths."""
        rows = conn.execute(QUERIES["delete_expired"], {"older_than": older_than, "batch": batch}).fetchall()
        return [ExpiredExecution(row["id"], row["scenario_name"], list(row["logs"] or [])) for row in rows]

    def set_pinned(self, conn: Connection, execution_id: UUID, pinned: bool) -> bool:
        """False when there is no such execution."""
        return (
            conn.execute(QUERIES["set_pinned"], {"pinned": pinned, "id": execution_id}).fetchone() is not None
        )

    def get_by_id(self, conn: Connection, execution_id: UUID) -> SuiteExecutionRecord | None:
        row = conn.execute(QUERIES["get_execution_record"], {"id": execution_id}).fetchone()
        return _record_from_row(row) if row else None

    def get_by_request(self, conn: Connection, suite_request_id: UUID) -> SuiteExecutionRecord | None:
        row = conn.execute(
            QUERIES["get_execution_record_by_request"], {"suite_request_id": suite_request_id}
        ).fetchone()
        return _record_from_row(row) if row else None

    def count(self, conn: Connection) -> int:
        row = conn.execute(QUERIES["count_executions"]).fetchone()
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


def _insert_params(record: SuiteExecutionRecord) -> dict[str, Any]:
    summary = record.summary
    return {
        "id": record.id,
        "suite_request_id": record.suite_request_id,
        "scenario_name": record.scenario_name,
        "preset_used": record.preset or None,
        "success": record.success,
        "phases": Jsonb([phase.to_json_dict() for phase in record.phases]),
        "started_at": record.started_at,
        "completed_at": record.completed_at,
        "outcome": record.outcome.value,
        "trigger": record.trigger.value,
        "requested": Jsonb(record.requested) if record.requested is not None else None,
        "warnings": Jsonb(record.warnings) if record.warnings else None,
        "total": summary.total,
        "passed": summary.passed,
        "failed": summary.failed,
        "skipped": summary.skipped,
        "duration_seconds": summary.duration_seconds,
        "observation_count": summary.observation_count,
        "duration_ms": record.duration_ms,
        "source_digest": record.source_digest,
    }


def _record_from_row(row: dict[str, Any]) -> SuiteExecutionRecord:
    return SuiteExecutionRecord(
        id=row["id"],
        suite_request_id=row["suite_request_id"],
        scenario_name=row["scenario_name"],
        preset=row["preset_used"],
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
