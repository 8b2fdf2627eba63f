"""Tiny handlers for the local stack's unit tests: they record what they were given."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

CALLS: list[tuple[str, Any, int]] = []
_LOCK = threading.Lock()


def _record(kind: str, event: Any, context: Any) -> None:
    with _LOCK:
        CALLS.append((kind, event, context.get_remaining_time_in_millis()))


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and "Records" in event:
        return _sqs(event, context)
    if isinstance(event, dict) and "routeKey" in event:
        return _http(event, context)
    _record("schedule", event, context)
    return {"ok": True}


def _http(event: dict[str, Any], context: Any) -> Any:
    _record("http", event, context)
    path = event["rawPath"]
    if path.endswith("/boom"):
        raise RuntimeError("boom")
    if path.endswith("/plain"):
        return {"plain": True}
    if path.endswith("/binary"):
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(b"\x00\x01\xff").decode(),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 201 if event["requestContext"]["http"]["method"] == "POST" else 200,
        "headers": {"content-type": "application/json", "x-route": event["routeKey"]},
        "body": json.dumps({"event": event, "remainingMs": context.get_remaining_time_in_millis()}),
    }


def _sqs(event: dict[str, Any], context: Any) -> Any:
    _record("sqs", event, context)
    failures = []
    for record in event["Records"]:
        if record["body"] == "raise":
            raise RuntimeError("the whole batch fails")
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
        if record["body"] == "bad-answer":
            failures.append({"itemIdentifier": ""})
    return {"batchItemFailures": failures}


def custom_resource(event: Any, context: Any) -> Any:
    return None
