"""Calling the handlers as Lambda does: moto's SQS queues, and a client that sends HTTP events."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from uuid import UUID

import boto3
from testgenie import bootstrap
from testgenie.bootstrap import Services
from testgenie.orchestrator.run.engine_protocol import SuiteEngine
from testgenie.queue.publisher import SuiteRequestPublisher
from testgenie.settings import Settings

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


class RecordingPublisher:
    """A real publisher that also remembers every hand-back it was asked for."""

    def __init__(self, inner: SuiteRequestPublisher) -> None:
        self.inner = inner
        self.releases: list[tuple[list[str], int]] = []

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        return self.inner.publish(request_ids)

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        handles = list(receipt_handles)
        self.releases.append((handles, visibility_timeout))
        self.inner.release(handles, visibility_timeout)


class NoFreshMessages(RecordingPublisher):
    """A queue that takes no new message (every publish fails) but still takes hand-backs."""

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        return list(request_ids)


class HandlerServices:
    """The services of handler modules, built by `bootstrap.build` from settings and served through
    each module's `environment` (as a Lambda environment builds them, with the test's parameters)."""

    def __init__(self, apps: list[ModuleType], settings: Settings, engine: SuiteEngine) -> None:
        self.apps = apps
        self.settings = settings
        self.engine = engine
        self._built: list[Services] = []

    def rebuild(self, *, publisher: SuiteRequestPublisher | None = None, **changes: Any) -> Services:
        """Fresh services (a cold start) for every handler, with these settings changed (and this
        publisher instead of the settings' one); the last built."""
        self.settings = self.settings.model_copy(update=changes)
        built: Services | None = None
        for app in self.apps:
            built = bootstrap.build(self.settings, engine=self.engine, publisher=publisher)
            self._built.append(built)
            app.environment.use(built)
        assert built is not None
        return built

    def close(self) -> None:
        for services in self._built:
            services.close()
        for app in self.apps:
            app.environment.close()


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
