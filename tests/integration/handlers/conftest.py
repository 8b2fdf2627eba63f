"""Handlers on a real PostgreSQL and moto SQS: environment, queues, and a fake engine behind bootstrap."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from moto import mock_aws
from testgenie import bootstrap
from testgenie.db import Database
from testgenie.execution.service import SuiteExecutionService

from tests.support.context import FakeLambdaContext
from tests.support.engine import FakeEngine
from tests.support.handlers import Client, Queues, create_queues


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    with mock_aws():
        made = create_queues()
        monkeypatch.setenv("SUITE_REQUEST_QUEUE_URL", made.url)
        monkeypatch.setenv("SUITE_REQUEST_DLQ_ARN", made.dlq_arn)
        yield made


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


@pytest.fixture
def history(env: Queues, history_app: ModuleType, context: FakeLambdaContext) -> Client:
    return Client(history_app, context)


@pytest.fixture
def execute(env: Queues, execute_app: ModuleType, context: FakeLambdaContext) -> Client:
    return Client(execute_app, context)
