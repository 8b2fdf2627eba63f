"""Real-shaped events for the handlers: API Gateway HTTP API (payload 2.0) events whose routeKey and
pathParameters are the ones API Gateway sends for template.yaml's routes, and SQS batches, both built
from the captured samples in tests/events/."""

from __future__ import annotations

import copy
import functools
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from testgenie_local.template import read_template

from tests.support.paths import EVENTS_DIR, TEMPLATE

SUITE_REQUEST_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:SuiteRequestQueue"


@dataclass(frozen=True)
class Route:
    """One route of the HTTP API, as template.yaml declares it."""

    method: str
    path: str  # "/api/v1/executions/{executionId}"

    @property
    def key(self) -> str:
        """The routeKey of an event API Gateway matched to this route."""
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when `method path` takes this route, else None."""
        if method != self.method:
            return None
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every HTTP route of template.yaml's functions (the one list the tests and the fuzzer use)."""
    template = read_template(TEMPLATE)
    return tuple(sorted({Route(r.method, r.path) for r, _ in template.routes()}, key=lambda r: r.key))


def match_route(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """The route key and path parameters API Gateway would send (the most specific route wins: fewer
    parameters first); `$default` without parameters when no route takes the request."""
    for route in sorted(routes(), key=lambda r: len(r.parameters)):
        params = route.match(method, path)
        if params is not None:
            return route.key, params or None
    return "$default", None


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


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
    route_key, params = match_route(method, path)
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


def sqs_record(
    body: str, queue_arn: str = SUITE_REQUEST_QUEUE_ARN, message_id: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """One record of an SQS batch (the captured sample's shape) with this body, queue and receive count."""
    record: dict[str, Any] = copy.deepcopy(load("sqs_batch_mixed.json")["Records"][0])
    record.update(messageId=message_id or str(uuid.uuid4()), body=body, eventSourceARN=queue_arn)
    record["receiptHandle"] = uuid.uuid4().hex
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    sent = str(int(time.time() * 1000))
    record["attributes"]["SentTimestamp"] = record["attributes"]["ApproximateFirstReceiveTimestamp"] = sent
    return record


def sqs_batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def suite_request_message(request_id: str, receive_count: int = 1) -> dict[str, Any]:
    """An SQS batch of one message `{"suiteRequestId": ...}` from the suite request queue."""
    body = json.dumps({"suiteRequestId": request_id})
    return sqs_batch(sqs_record(body, SUITE_REQUEST_QUEUE_ARN, receive_count=receive_count))


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
