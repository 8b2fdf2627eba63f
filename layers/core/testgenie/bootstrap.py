"""The one composition root: builds the services once per execution environment from settings.

Handlers call these getters; tests build the same services directly with a test database or fakes.
The read side (history) never imports the orchestrator or boto3.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from testgenie.db import Database, resolve_database_url
from testgenie.execution.history import ExecutionHistoryService
from testgenie.queue.service import SuiteRequestService
from testgenie.settings import Settings, get_settings

if TYPE_CHECKING:
    from testgenie.execution.service import SuiteExecutionService
    from testgenie.queue.publisher import SuiteRequestPublisher


@lru_cache(maxsize=1)
def database() -> Database:
    settings = get_settings()
    # The secret is resolved on first connect, so a cold start that never touches SQL never pays for it.
    return Database(
        lambda: resolve_database_url(settings.database_url, settings.database_secret_arn),
        connect_timeout=settings.db_connect_timeout_seconds,
    )


def _publisher(settings: Settings) -> SuiteRequestPublisher | None:
    if not settings.suite_request_queue_url:
        return None
    from testgenie.queue.publisher import SqsPublisher

    return SqsPublisher(settings.suite_request_queue_url)


@lru_cache(maxsize=1)
def suite_request_service() -> SuiteRequestService:
    settings = get_settings()
    return SuiteRequestService(
        database(),
        _publisher(settings),
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        requeue_after_seconds=settings.requeue_after_seconds,
    )


@lru_cache(maxsize=1)
def history_service() -> ExecutionHistoryService:
    return ExecutionHistoryService(database())


@lru_cache(maxsize=1)
def execution_service() -> SuiteExecutionService:
    from testgenie.execution.service import SuiteExecutionService
    from testgenie.orchestrator.engine import orchestrator_from_settings

    return SuiteExecutionService(
        orchestrator_from_settings(get_settings()), database(), suite_request_service()
    )


def reset() -> None:
    """Forget every built service (tests, and the local stack after it changes the environment)."""
    for getter in (database, suite_request_service, history_service, execution_service):
        getter.cache_clear()
    get_settings.cache_clear()
