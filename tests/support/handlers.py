"""Calling the handlers as Lambda does: moto's SQS queues, and a client that sends HTTP events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3

from tests.support.context import FakeLambdaContext
from tests.support.events import http_event, response_json


@dataclass
class Queues:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str

    def drain(self) -> list[dict[str, Any]]:
        """Every message body currently on the main queue (received once, then deleted)."""
        sqs = boto3.client("sqs")
        bodies: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return bodies
            for message in got:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def create_queues() -> Queues:
    """The suite request queue and its DLQ on moto (inside a `mock_aws()`)."""
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="testgenie-suite-requests-dlq")["QueueUrl"]
    url = sqs.create_queue(QueueName="testgenie-suite-requests")["QueueUrl"]
    arn_of = {
        u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for u in (url, dlq_url)
    }
    return Queues(url, arn_of[url], dlq_url, arn_of[dlq_url])


class Client:
    """Calls a handler with API Gateway events; returns (status, json-or-text, response)."""

    def __init__(self, module: ModuleType, context: FakeLambdaContext) -> None:
        self._module = module
        self._context = context

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, Any]]:
        return self.send(http_event(method, path, **kwargs))

    def send(self, event: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
        """Like call, for an event the test shaped itself."""
        response: dict[str, Any] = self._module.lambda_handler(event, self._context)
        content_type = response.get("headers", {}).get("Content-Type", "")
        body = (
            response_json(response) if content_type.startswith("application/json") else response.get("body")
        )
        return int(response["statusCode"]), body, response
