"""Handlers on a real PostgreSQL and moto SQS, their services built by bootstrap with a fake engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from moto import mock_aws
from testgenie.db import Database
from testgenie.settings import Settings

from tests.support.context import FakeLambdaContext
from tests.support.engine import FakeEngine
from tests.support.handlers import Client, HandlerServices, Queues, create_queues


@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws():
        yield create_queues()


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def handler_services(
    db: Database,
    database_url: str,
    queues: Queues,
    engine: FakeEngine,
    tmp_path: Path,
    execute_app: ModuleType,
    history_app: ModuleType,
) -> Iterator[HandlerServices]:
    """Both handlers' services, built by bootstrap from the test's settings: the test database, moto
    SQS, a local artifact folder and a fake engine. `rebuild(**settings)` changes a setting."""
    settings = Settings(
        database_url=database_url,
        suite_request_queue_url=queues.url,
        suite_request_dlq_arn=queues.dlq_arn,
        artifacts_dir=tmp_path / "artifacts",
        phase_timeout_seconds=60,
    )
    installed = HandlerServices([execute_app, history_app], settings, engine)
    installed.rebuild()
    yield installed
    installed.close()


@pytest.fixture
def env(handler_services: HandlerServices, queues: Queues, monkeypatch: pytest.MonkeyPatch) -> Queues:
    """The handlers, ready to take events; the queues they publish to."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    return queues


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
