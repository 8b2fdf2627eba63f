"""Opaque keyset cursors: the sort key of the last item of a page, base64url-encoded JSON.

A cursor carries its kind, so one list's cursor given to another is a 400, not a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from testgenie.errors import ValidationError

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
