"""Real-shaped events for the handlers, built from the captured samples in tests/events/."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from tests.conftest import EVENTS_DIR

# The routes as API Gateway declares them (template.yaml); the route key is part of a real event.
ROUTE_TEMPLATES = (
    "GET /api/v1/executions",
    "GET /api/v1/executions/latest",
    "GET /api/v1/executions/{executionId}",
    "GET /api/v1/executions/{executionId}/phases/{phase}/log",
    "POST /api/v1/executions",
    "GET /api/v1/suite-requests",
    "POST /api/v1/suite-requests",
    "GET /api/v1/suite-requests/{requestId}",
    "POST /api/v1/suite-requests/{requestId}/cancel",
    "GET /api/v1/phases",
    "GET /api/v1/health",
)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


def _match_route(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """The route key and path parameters API Gateway would send (static routes win)."""
    candidates = sorted(ROUTE_TEMPLATES, key=lambda r: r.count("{"))
    for route in candidates:
        route_method, template = route.split(" ", 1)
        if route_method != method:
            continue
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        found = re.match(pattern, path)
        if found:
            return route, found.groupdict() or None
    return "$default", None


def http_event(
    method: str,
    path: str,
    *,
    body: str | dict[str, Any] | list[Any] | None = None,
    query: dict[str, str] | list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event with an IAM request context."""
    event = copy.deepcopy(load("apigw_http_iam.json"))
    route_key, params = _match_route(method, path)
    pairs = list(query.items()) if isinstance(query, dict) else list(query or [])
    raw_body = json.dumps(body) if isinstance(body, dict | list) else body
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = urlencode(pairs, quote_via=quote)
    joined: dict[str, str] = {}
    for key, value in pairs:  # API Gateway joins repeated parameters with commas
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    if joined:
        event["queryStringParameters"] = joined
    if params is None:
        event.pop("pathParameters", None)
    else:
        event["pathParameters"] = params
    event["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
    if raw_body is not None:
        event["body"] = raw_body
        event["headers"]["content-length"] = str(len(raw_body.encode()))
        event["headers"].setdefault("content-type", "application/json")
    return event


def sqs_event(name: str, **values: str) -> dict[str, Any]:
    """A captured SQS batch with its {{PLACEHOLDERS}} filled in."""
    text = (EVENTS_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    data: dict[str, Any] = json.loads(text)
    return data


def sqs_record(body: str, queue_arn: str, message_id: str, receive_count: int = 1) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(load("sqs_batch_mixed.json")["Records"][0])
    record.update(messageId=message_id, body=body, eventSourceARN=queue_arn)
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return record


@dataclass
class FakeLambdaContext:
    """The attributes of a real LambdaContext that Powertools reads."""

    remaining_ms: list[int] = field(default_factory=lambda: [900_000])
    function_name: str = "testgenie-ExecuteFunction-AbC123"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:testgenie-ExecuteFunction-AbC123"
    )
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "6f0b5a38-4c2e-4f7e-9b1d-0a1b2c3d4e5f"
    log_group_name: str = "/aws/lambda/testgenie-ExecuteFunction-AbC123"
    log_stream_name: str = "2025/03/10/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        """Successive calls return successive values (the last one repeats)."""
        return self.remaining_ms.pop(0) if len(self.remaining_ms) > 1 else self.remaining_ms[0]


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
