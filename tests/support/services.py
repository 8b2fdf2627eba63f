"""Services for a test, built by bootstrap (the one composition root) with the test's parameters."""

from __future__ import annotations

from typing import Any

from testgenie import bootstrap
from testgenie.artifacts import ArtifactStore
from testgenie.db import Transactions
from testgenie.execution.store import ExecutionStore
from testgenie.orchestrator.run.engine_protocol import SuiteEngine
from testgenie.queue.publisher import SuiteRequestPublisher
from testgenie.queue.service import SuiteRequestService
from testgenie.settings import Settings

from tests.support.engine import FakeEngine


def services(
    db: Transactions,
    publisher: SuiteRequestPublisher | None = None,
    *,
    engine: SuiteEngine | None = None,
    executions: ExecutionStore | None = None,
    artifacts: ArtifactStore | None = None,
    **settings: Any,
) -> bootstrap.Services:
    """`bootstrap.build` on this database with these settings (Settings fields), a FakeEngine unless
    another engine is given, and the publisher given (none: the settings' default)."""
    return bootstrap.build(
        Settings(**settings),
        database=db,
        publisher=publisher,
        engine=engine or FakeEngine(),
        execution_store=executions,
        artifacts=artifacts,
    )


def suite_requests(
    db: Transactions, publisher: SuiteRequestPublisher | None = None, **options: Any
) -> SuiteRequestService:
    """The SuiteRequestService of `services(db, publisher, **options)`; unless an engine is given, one
    that accepts any plan, so a test can store a plan the service's engine would refuse."""
    options.setdefault("engine", FakeEngine(validates=False))
    return services(db, publisher, **options).suite_requests
