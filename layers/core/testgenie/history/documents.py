"""The history answers' JSON, built in the function from plain rows (history/repository.py) with
pydantic-core's serializer: formatting scales out with the functions instead of loading the one
shared database (docs/performance.md). Shapes equal SuiteExecutionSummary and StoredExecution
(tests/integration/core/test_history.py holds them equal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from testgenie.db import Row


def timestamp(value: datetime) -> str:
    """2026-01-09T10:15:00.000000Z, as models_base.iso_utc writes it, without strftime's cost: one
    isoformat call (the session's time zone is UTC, so its offset is "+00:00", replaced by "Z")."""
    text = value.isoformat(timespec="microseconds")
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    if value.utcoffset() is None:  # naive: taken as UTC, as before
        return text + "Z"
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _common(row: Row) -> dict[str, Any]:
    item: dict[str, Any] = {"executionId": str(row["id"])}
    if row["suite_request_id"] is not None:
        item["suiteRequestId"] = str(row["suite_request_id"])
    item["scenarioName"] = row["scenario_name"]
    item["startedAt"] = timestamp(row["started_at"])
    item["completedAt"] = timestamp(row["completed_at"])
    item["success"] = row["success"]
    if row["preset_used"] is not None:
        item["preset"] = row["preset_used"]
    item["outcome"] = row["outcome"]
    return item


def _phase_summary(row: Row) -> dict[str, Any]:
    return {
        "total": row["total"],
        "passed": row["passed"],
        "failed": row["failed"],
        "skipped": row["skipped"],
        "durationSeconds": row["duration_seconds"],
        "observationCount": row["observation_count"],
    }


def summary_item(row: Row) -> dict[str, Any]:
    """A list item from history/queries.sql: summary_columns."""
    item = _common(row)
    item["trigger"] = row["trigger"]
    item["durationMs"] = row["duration_ms"]
    item["phaseSummary"] = _phase_summary(row)
    if row["source_digest"] is not None:
        item["sourceDigest"] = row["source_digest"]
    return item


def result_document(row: Row) -> str:
    """One execution from history/queries.sql: result_columns; its phases JSON text is spliced in,
    never parsed."""
    item = _common(row)
    item["phaseSummary"] = _phase_summary(row)
    if row["warnings"] is not None:
        item["warnings"] = row["warnings"]
    if row["source_digest"] is not None:
        item["sourceDigest"] = row["source_digest"]
    item["trigger"] = row["trigger"]
    head = to_json(item).decode()
    return f'{head[:-1]},"phases":{row["phases"]}}}'  # the object's last key, appended as the text it is


def page_document(items: list[dict[str, Any]], next_cursor: str | None, total: int | None = None) -> str:
    """`{"items": [...], "count": n, "nextCursor": ...}` (+ "total" when asked)."""
    body: dict[str, Any] = {"items": items, "count": len(items), "nextCursor": next_cursor}
    if total is not None:
        body["total"] = total
    return to_json(body).decode()
