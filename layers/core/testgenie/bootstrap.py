"""The one composition root: builds the services once per execution environment from settings.

Handlers call these getters; tests build the same services directly with a test database or fakes.
The read side (history) never imports the orchestrator or boto3.

An execution environment is a thread: Lambda has exactly one; the local stack runs each function's
warm environments as threads, and each gets its own services and database connection, as on AWS.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from testgenie.db import Database, resolve_database_url
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.queue.service import SuiteRequestService
from testgenie.settings import Settings, get_settings

if TYPE_CHECKING:
    from testgenie.coordinator.flow import CoordinatorDeps
    from testgenie.coordinator.runs import DurableRuns
    from testgenie.execution.reruns import RerunService
    from testgenie.execution.retention import RetentionService
    from testgenie.execution.service import SuiteExecutionService
    from testgenie.orchestrator.sources.base import ScenarioSource
    from testgenie.queue.publisher import SuiteRequestPublisher

T = TypeVar("T")

_environment = threading.local()
_generation = itertools.count(1)
_current_generation = next(_generation)


def _built(name: str, build: Callable[[], T]) -> T:
    """This environment's `name`, built on first use (and again after reset())."""
    cache: dict[str, Any] | None = getattr(_environment, "cache", None)
    if cache is None or _environment.generation != _current_generation:
        stale = (cache or {}).get("database")
        if stale is not None:  # this environment's connection from before reset()
            stale.close()
        cache = _environment.cache = {}
        _environment.generation = _current_generation
    if name not in cache:
        cache[name] = build()
    value: T = cache[name]
    return value


def database() -> Database:
    def build() -> Database:
        settings = get_settings()
        # The secret is resolved on first connect: a cold start that never touches SQL never pays for it.
        return Database(
            lambda: resolve_database_url(
                settings.database_url, settings.database_secret_arn, settings.database_proxy_endpoint
            ),
            connect_timeout=settings.db_connect_timeout_seconds,
        )

    return _built("database", build)


def _publisher(settings: Settings) -> SuiteRequestPublisher | None:
    if not settings.suite_request_queue_url:
        return None
    from testgenie.queue.publisher import SqsPublisher

    return SqsPublisher(settings.suite_request_queue_url)


def suite_request_service() -> SuiteRequestService:
    def build() -> SuiteRequestService:
        settings = get_settings()
        return SuiteRequestService(
            database(),
            _publisher(settings),
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            requeue_after_seconds=settings.requeue_after_seconds,
            executions=SuiteExecutionRepository(),
            # Lazily: the read side builds this service too and never loads the orchestrator.
            plan_validator=lambda request: execution_service().validate_plan(request),
        )

    return _built("suite_request_service", build)


def history_service() -> ExecutionHistoryService:
    return _built("history_service", lambda: ExecutionHistoryService(database()))


def rerun_service() -> RerunService:
    def build() -> RerunService:
        from testgenie.execution.reruns import RerunService

        return RerunService(database(), suite_request_service())

    return _built("rerun_service", build)


def retention_service() -> RetentionService:
    def build() -> RetentionService:
        from testgenie.artifacts import artifact_store_from_settings
        from testgenie.execution.retention import RetentionService

        settings = get_settings()
        return RetentionService(database(), artifact_store_from_settings(settings), settings.retention_days)

    return _built("retention_service", build)


def execution_service() -> SuiteExecutionService:
    def build() -> SuiteExecutionService:
        from testgenie.execution.service import SuiteExecutionService
        from testgenie.runner.coordinator import runner_orchestrator
        from testgenie.shards.store import DatabaseShardStore

        engine = runner_orchestrator(get_settings(), DatabaseShardStore(database()))
        return SuiteExecutionService(engine, database(), suite_request_service())

    return _built("execution_service", build)


def scenario_source() -> ScenarioSource:
    """SCENARIOS_SOURCE, for listing what the service can run (the write side only: S3 needs boto3)."""

    def build() -> ScenarioSource:
        from testgenie.orchestrator.sources.factory import scenario_source_from_settings

        return scenario_source_from_settings(get_settings())

    return _built("scenario_source", build)


def reset() -> None:
    """Forget every built service in every environment (tests, and the local stack after it changes
    the environment variables); each environment rebuilds on its next call."""
    global _current_generation
    old: Database | None = (getattr(_environment, "cache", None) or {}).get("database")
    if old is not None:
        old.close()
    _current_generation = next(_generation)
    get_settings.cache_clear()


def coordinator_deps() -> CoordinatorDeps:
    """What the durable coordinator works with (functions/coordinator)."""

    def build() -> CoordinatorDeps:
        from testgenie.artifacts import artifact_store_from_settings
        from testgenie.coordinator.flow import CoordinatorDeps
        from testgenie.coordinator.shards import ShardSettings
        from testgenie.errors import ConfigurationError
        from testgenie.orchestrator.sources.factory import scenario_source_from_settings
        from testgenie.shards.store import DatabaseShardStore

        settings = get_settings()
        if not settings.runner_function_name:
            raise ConfigurationError("RUNNER_FUNCTION_NAME is not set: phases run only in the runner")
        return CoordinatorDeps(
            requests=suite_request_service(),
            db=database(),
            bundles=scenario_source_from_settings(settings),
            artifacts=artifact_store_from_settings(settings),
            runner_function=settings.runner_function_name,
            default_phase_timeout=settings.phase_timeout_seconds,
            execution_timeout_seconds=settings.execution_timeout_seconds,
            shards=ShardSettings(
                DatabaseShardStore(database()), settings.max_shards, settings.shard_target_seconds
            ),
        )

    return _built("coordinator_deps", build)


def durable_runs() -> DurableRuns | None:
    """Runs as durable executions of COORDINATOR_FUNCTION_NAME; None when it is not set (the direct path)."""
    settings = get_settings()
    if not settings.coordinator_function_name:
        return None
    name = settings.coordinator_function_name

    def build() -> DurableRuns:
        from testgenie.coordinator.control import LambdaDurableControl
        from testgenie.coordinator.runs import DurableRuns

        return DurableRuns(
            suite_request_service(), execution_service(), history_service(), LambdaDurableControl(name)
        )

    return _built("durable_runs", build)
