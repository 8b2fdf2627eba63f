"""Handlers on a real PostgreSQL and moto SQS: environment, queues, and a fake engine behind bootstrap."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from testgenie import bootstrap
from testgenie.db import Database
from testgenie.execution.service import SuiteExecutionService

from tests.integration.handlers.events import FakeLambdaContext, http_event, response_json
from tests.support import FakeEngine


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


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    with mock_aws():
        sqs = boto3.client("sqs")
        dlq_url = sqs.create_queue(QueueName="testgenie-suite-requests-dlq")["QueueUrl"]
        url = sqs.create_queue(QueueName="testgenie-suite-requests")["QueueUrl"]
        arn_of = {
            u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for u in (url, dlq_url)
        }
        monkeypatch.setenv("SUITE_REQUEST_QUEUE_URL", url)
        monkeypatch.setenv("SUITE_REQUEST_DLQ_ARN", arn_of[dlq_url])
        yield Queues(url, arn_of[url], dlq_url, arn_of[dlq_url])


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def env(
    db: Database,
    database_url: str,
    queues: Queues,
    engine: FakeEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Queues]:
    """The handlers' environment: the test database, moto SQS, a local artifact folder, a fake engine."""
    for name in ("DATABASE_SECRET_ARN", "ARTIFACTS_BUCKET", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("PHASE_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "TestGenie")
    bootstrap.reset()

    @functools.lru_cache(maxsize=1)
    def execution_service() -> SuiteExecutionService:
        return SuiteExecutionService(engine, bootstrap.database(), bootstrap.suite_request_service())

    monkeypatch.setattr(bootstrap, "execution_service", execution_service)
    yield queues
    bootstrap.database().close()
    bootstrap.reset()


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(scope="session")
def history_app() -> ModuleType:
    import history_app

    return history_app


@pytest.fixture(scope="session")
def execute_app() -> ModuleType:
    import execute_app

    return execute_app


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


@pytest.fixture
def history(env: Queues, history_app: ModuleType, context: FakeLambdaContext) -> Client:
    return Client(history_app, context)


@pytest.fixture
def execute(env: Queues, execute_app: ModuleType, context: FakeLambdaContext) -> Client:
    return Client(execute_app, context)
