"""The composition root: `build(...)` wires every service from its dependencies, all parameters.

Each dependency has a production default: the settings read from the environment, PostgreSQL, the
SQS publisher (none without SUITE_REQUEST_QUEUE_URL), the artifact store of the settings (S3 or a
folder), RunnerFunction, the system clock. Tests pass fakes (tests/support/fakes.py) and the local
stack passes its own settings; nothing reaches into a built `Services` afterwards.

Each handler module keeps one `Environment`: the `Services` of its execution environment, built on
the first event and kept for the next ones (one database connection per environment, as Lambda runs
one event at a time in each). What only the write side needs (the orchestrator, boto3) is built on
first use, so the read side (history) never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from testgenie.db import Database, Transactions, resolve_database_url
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.models_base import Clock, utc_now
from testgenie.queue.publisher import NullPublisher, SqsPublisher, SuiteRequestPublisher
from testgenie.queue.repository import SuiteRequestRepository
from testgenie.queue.service import SuiteRequestService
from testgenie.settings import Settings, get_settings

if TYPE_CHECKING:
    from testgenie.artifacts import ArtifactStore
    from testgenie.coordinator.flow import CoordinatorDeps
    from testgenie.coordinator.runs import DurableRuns
    from testgenie.execution.reruns import RerunService
    from testgenie.execution.retention import RetentionService, TimingPruner
    from testgenie.execution.service import SuiteExecutionService
    from testgenie.execution.store import ExecutionStore
    from testgenie.orchestrator.run.engine_protocol import SuiteEngine
    from testgenie.orchestrator.sources.base import ScenarioSource
    from testgenie.queue.store import SuiteRequestStore
    from testgenie.runner.client import RunnerClient
    from testgenie.shards.store import ShardStore


class Services:
    """The services of one execution environment and the ports they share. Built by `build()`."""

    def __init__(
        self,
        settings: Settings,
        database: Transactions,
        publisher: SuiteRequestPublisher,
        clock: Clock,
        queue_store: SuiteRequestStore,
        execution_store: ExecutionStore,
        *,
        artifacts: ArtifactStore | None = None,
        runner: RunnerClient | None = None,
        engine: SuiteEngine | None = None,
        timing_store: TimingPruner | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.publisher = publisher
        self.clock = clock
        self.queue_store = queue_store
        self.execution_store = execution_store
        self._artifacts = artifacts
        self._runner = runner
        self._engine = engine
        self._timing_store = timing_store

    # -- ports the write side builds on first use ----------------------------------------------

    @cached_property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is not None:
            return self._artifacts
        from testgenie.artifacts import artifact_store_from_settings  # boto3 only if the store is S3

        return artifact_store_from_settings(self.settings)

    @cached_property
    def runner(self) -> RunnerClient:
        if self._runner is not None:
            return self._runner
        from testgenie.errors import ConfigurationError
        from testgenie.runner.client import LambdaRunnerClient

        if not self.settings.runner_function_name:
            raise ConfigurationError("RUNNER_FUNCTION_NAME is not set: phases run only in the runner")
        return LambdaRunnerClient(self.settings.runner_function_name, self.settings.runner_timeout_seconds)

    @cached_property
    def engine(self) -> SuiteEngine:
        """The orchestrator, every phase in the runner (docs/architecture.md, "The runner")."""
        if self._engine is not None:
            return self._engine
        from testgenie.runner.coordinator import runner_orchestrator

        runner = self.runner  # first: no runner configured fails before anything else is built
        return runner_orchestrator(
            self.settings, artifacts=self.artifacts, runner=runner, shard_store=self.shard_store
        )

    @cached_property
    def shard_store(self) -> ShardStore | None:
        """The learned test durations sharding splits by: in PostgreSQL; on another database (the
        fakes) a run plans without them."""
        if not isinstance(self.database, Database):
            return None
        from testgenie.shards.store import DatabaseShardStore

        return DatabaseShardStore(self.database)

    @cached_property
    def timing_store(self) -> TimingPruner:
        if self._timing_store is not None:
            return self._timing_store
        from testgenie.shards.repository import TestTimingRepository

        return TestTimingRepository()

    @cached_property
    def scenarios(self) -> ScenarioSource:
        """SCENARIOS_SOURCE, listed for the scenarios the service can run (boto3 when it is S3)."""
        from testgenie.orchestrator.sources.factory import scenario_source_from_settings

        return scenario_source_from_settings(self.settings)

    # -- services ---------------------------------------------------------------------------------

    @cached_property
    def suite_requests(self) -> SuiteRequestService:
        settings = self.settings
        return SuiteRequestService(
            self.database,
            self.queue_store,
            self.execution_store,
            self.publisher,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            requeue_after_seconds=settings.requeue_after_seconds,
            # Lazily: the read side builds this service too and never loads the orchestrator.
            plan_validator=lambda request: self.engine.plan(request),
            clock=self.clock,
        )

    @cached_property
    def history(self) -> ExecutionHistoryService:
        return ExecutionHistoryService(self.database, HistoryRepository())

    @cached_property
    def execution(self) -> SuiteExecutionService:
        from testgenie.execution.service import SuiteExecutionService

        return SuiteExecutionService(
            self.engine, self.database, self.suite_requests, self.execution_store, clock=self.clock
        )

    @cached_property
    def reruns(self) -> RerunService:
        from testgenie.execution.reruns import RerunService

        return RerunService(self.database, self.suite_requests, self.execution_store)

    @cached_property
    def retention(self) -> RetentionService:
        from testgenie.execution.retention import RetentionService

        return RetentionService(
            self.database,
            self.execution_store,
            self.artifacts,
            self.settings.retention_days,
            timings=self.timing_store,
            clock=self.clock,
        )

    @cached_property
    def coordinator(self) -> CoordinatorDeps:
        """What the durable coordinator works with (functions/coordinator)."""
        from testgenie.coordinator.flow import CoordinatorDeps
        from testgenie.coordinator.shards import ShardSettings
        from testgenie.errors import ConfigurationError
        from testgenie.orchestrator.sources.factory import scenario_source_from_settings

        settings = self.settings
        if not settings.runner_function_name:
            raise ConfigurationError("RUNNER_FUNCTION_NAME is not set: phases run only in the runner")
        return CoordinatorDeps(
            requests=self.suite_requests,
            db=self.database,
            bundles=scenario_source_from_settings(settings),
            artifacts=self.artifacts,
            runner_function=settings.runner_function_name,
            default_phase_timeout=settings.phase_timeout_seconds,
            execution_timeout_seconds=settings.execution_timeout_seconds,
            shards=ShardSettings(self.shard_store, settings.max_shards, settings.shard_target_seconds),
        )

    @cached_property
    def durable_runs(self) -> DurableRuns | None:
        """Runs as durable executions of COORDINATOR_FUNCTION_NAME; None when it is not set (the
        direct path)."""
        name = self.settings.coordinator_function_name
        if not name:
            return None
        from testgenie.coordinator.control import LambdaDurableControl
        from testgenie.coordinator.runs import DurableRuns

        return DurableRuns(self.suite_requests, self.execution, self.history, LambdaDurableControl(name))

    def close(self) -> None:
        self.database.close()


def build(
    settings: Settings | None = None,
    *,
    database: Transactions | None = None,
    publisher: SuiteRequestPublisher | None = None,
    artifacts: ArtifactStore | None = None,
    runner: RunnerClient | None = None,
    engine: SuiteEngine | None = None,
    clock: Clock = utc_now,
    queue_store: SuiteRequestStore | None = None,
    execution_store: ExecutionStore | None = None,
    timing_store: TimingPruner | None = None,
) -> Services:
    """Services from these dependencies; each one left out gets its production default."""
    settings = settings or get_settings()
    return Services(
        settings,
        database if database is not None else default_database(settings),
        publisher if publisher is not None else default_publisher(settings),
        clock,
        queue_store if queue_store is not None else SuiteRequestRepository(),
        execution_store if execution_store is not None else SuiteExecutionRepository(),
        artifacts=artifacts,
        runner=runner,
        engine=engine,
        timing_store=timing_store,
    )


def default_database(settings: Settings) -> Database:
    # The secret is resolved on first connect: a cold start that never touches SQL never pays for it.
    return Database(
        lambda: resolve_database_url(
            settings.database_url, settings.database_secret_arn, settings.database_proxy_endpoint
        ),
        connect_timeout=settings.db_connect_timeout_seconds,
    )


def default_publisher(settings: Settings) -> SuiteRequestPublisher:
    if not settings.suite_request_queue_url:
        return NullPublisher()
    return SqsPublisher(settings.suite_request_queue_url)  # boto3 is imported on the first publish


class Environment:
    """The `Services` of one execution environment: built by `build` on the first event, then kept."""

    def __init__(self, build: Callable[[], Services] = build) -> None:
        self._build = build
        self._services: Services | None = None

    def services(self) -> Services:
        if self._services is None:
            self._services = self._build()
        return self._services

    def use(self, services: Services) -> None:
        """Serve the next events with these services (tests with fakes, the local stack with its
        settings). The caller owns them: they are not closed here."""
        self._services = services

    def configure(self, build: Callable[[], Services]) -> None:
        """Build this environment's services with `build` on the next event (the local stack)."""
        self._build = build
        self._services = None

    def close(self) -> None:
        """Close this environment's connection and forget its services (the next event rebuilds)."""
        services, self._services = self._services, None
        if services is not None:
            services.close()
