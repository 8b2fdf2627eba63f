"""Paging and list parameters shared by every history list (executions, suite requests, scenarios):
keyset cursors, page sizes, and the parsing of times and choices (400s name the parameter).

A cursor is the sort key of the last item of a page, base64url-encoded JSON. It carries its kind, so
one list's cursor given to another is a 400, not a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from testgenie.errors import ValidationError

MAX_PAGE = 50
INVALID_CURSOR = "cursor is invalid; pass the nextCursor of a previous answer"


def encode_cursor(kind: str, at: datetime, key: Any) -> str:
    raw = json.dumps([kind, at.isoformat(), str(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> tuple[datetime, str]:
    """(time, tiebreaker) of a cursor of this kind; ValidationError for anything else."""
    text = cursor.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        found_kind, at, key = json.loads(raw)
        moment = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError(INVALID_CURSOR) from None
    if found_kind != kind or not isinstance(key, str) or moment.tzinfo is None:
        raise ValidationError(INVALID_CURSOR)
    return moment, key


def clamp_limit(limit: int | None) -> int:
    """Paging: default and maximum 50 (a larger value is clamped, not refused; docs/api.md)."""
    if limit is None or limit <= 0 or limit > MAX_PAGE:
        return MAX_PAGE
    return limit


@dataclass(frozen=True)
class Keyset:
    """Where a page starts: after (at, key) of the previous page's last item, or at an offset."""

    limit: int = MAX_PAGE
    offset: int = 0
    after: tuple[datetime, str] | None = None


def parse_keyset(kind: str, limit: int | None, offset: int | None, cursor: str | None) -> Keyset:
    after = decode_cursor(kind, cursor) if cursor and cursor.strip() else None
    if after is not None and offset:
        raise ValidationError("pass either cursor or offset, not both")
    return Keyset(limit=clamp_limit(limit), offset=max(offset or 0, 0), after=after)


def uuid_key(after: tuple[datetime, str] | None) -> tuple[datetime, UUID] | None:
    if after is None:
        return None
    try:
        return after[0], UUID(after[1])
    except ValueError:
        raise ValidationError(INVALID_CURSOR) from None


def split_values(raw: list[str] | str | None) -> list[str]:
    """`a,b` or repeated parameters -> [a, b], trimmed, lower-cased, without blanks or repeats."""
    values = [raw] if isinstance(raw, str) else list(raw or [])
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            item = part.strip().lower()
            if item and item not in found:
                found.append(item)
    return found


def parse_time(raw: str | None, field: str) -> datetime | None:
    """ISO 8601; a time without offset is UTC."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{field} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_key(raw: str | None, field: str, allowed: list[str]) -> str | None:
    value = (raw or "").strip().lower()
    if not value:
        return None
    if value not in allowed:
        raise ValidationError(f"{field} must be one of {', '.join(allowed)} (got '{value}')")
    return value
