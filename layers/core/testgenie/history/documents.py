"""The history answers' JSON, built in the function from plain rows (history/repository.py) with
pydantic-core's serializer: formatting scales out with the functions instead of loading the one
shared database (docs/performance.md). Shapes equal SuiteExecutionSummary and StoredExecution
(tests/integration/core/test_history.py holds them equal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

Row = tuple[Any, ...]


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
    item: dict[str, Any] = {"executionId": str(row[0])}
    if row[1] is not None:
        item["suiteRequestId"] = str(row[1])
    item["scenarioName"] = row[2]
    item["startedAt"] = timestamp(row[3])
    item["completedAt"] = timestamp(row[4])
    item["success"] = row[5]
    if row[6] is not None:
        item["preset"] = row[6]
    item["outcome"] = row[7]
    return item


def summary_item(row: Row) -> dict[str, Any]:
    """A list item from SUMMARY_COLUMNS."""
    item = _common(row)
    item["trigger"] = row[8]
    item["durationMs"] = row[9]
    item["phaseSummary"] = {
        "total": row[10],
        "passed": row[11],
        "failed": row[12],
        "skipped": row[13],
        "durationSeconds": row[14],
        "observationCount": row[15],
    }
    if row[16] is not None:
        item["sourceDigest"] = row[16]
    return item


def result_document(row: Row) -> str:
    """One execution from RESULT_COLUMNS; its phases JSON text is spliced in, never parsed."""
    item = _common(row)
    item["phaseSummary"] = {
        "total": row[8],
        "passed": row[9],
        "failed": row[10],
        "skipped": row[11],
        "durationSeconds": row[12],
        "observationCount": row[13],
    }
    if row[14] is not None:
        item["warnings"] = row[14]
    if row[15] is not None:
        item["sourceDigest"] = row[15]
    item["trigger"] = row[16]
    head = to_json(item).decode()
    return f'{head[:-1]},"phases":{row[17]}}}'  # the object's last key, appended as the text it is


def page_document(items: list[dict[str, Any]], next_cursor: str | None, total: int | None = None) -> str:
    """`{"items": [...], "count": n, "nextCursor": ...}` (+ "total" when asked)."""
    body: dict[str, Any] = {"items": items, "count": len(items), "nextCursor": next_cursor}
    if total is not None:
        body["total"] = total
    return to_json(body).decode()
