"""The composition root: every dependency a parameter with a production default, one `Services` per
execution environment."""

from __future__ import annotations

import sys

import pytest
from testgenie import bootstrap
from testgenie.db import Database
from testgenie.errors import ConfigurationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.service import SuiteExecutionInput
from testgenie.orchestrator.models import SuitePlan
from testgenie.queue.publisher import NullPublisher, SqsPublisher
from testgenie.queue.repository import SuiteRequestRepository
from testgenie.settings import Settings
from testgenie_local.runtime import load_handler
from testgenie_local.template import read_template

from tests.support.fakes import FakeClock, FakePublisher, memory_ports, memory_services
from tests.support.paths import TEMPLATE


def test_the_defaults_are_the_production_ports() -> None:
    services = bootstrap.build(Settings(database_url="postgresql://nobody@127.0.0.1:9/none"))
    assert isinstance(services.database, Database)
    assert isinstance(services.publisher, NullPublisher)  # no queue configured
    assert isinstance(services.queue_store, SuiteRequestRepository)
    assert isinstance(services.execution_store, SuiteExecutionRepository)
    queued = bootstrap.build(Settings(suite_request_queue_url="https://sqs.us-east-1.amazonaws.com/1/q"))
    assert isinstance(queued.publisher, SqsPublisher)


def test_the_parameters_are_the_ports_every_service_uses() -> None:
    ports = memory_ports(FakeClock(), FakePublisher())
    services = memory_services(ports, lease_seconds=30)
    requests = services.suite_requests
    assert services.database is ports.database
    assert services.artifacts is ports.artifacts
    result = services.execution.execute(SuiteExecutionInput(SuitePlan(scenario_name="demo")))
    assert ports.execution_store.get_by_id(None, result.execution_id) is not None
    assert requests.lease_seconds == 30
    assert services.suite_requests is requests  # built once


def test_without_a_runner_the_engine_is_a_clear_configuration_error() -> None:
    services = bootstrap.build(Settings())
    with pytest.raises(ConfigurationError, match="RUNNER_FUNCTION_NAME is not set"):
        _ = services.engine


def test_an_environment_builds_its_services_on_first_use_and_keeps_them() -> None:
    built: list[bootstrap.Services] = []

    def build() -> bootstrap.Services:
        built.append(memory_services())
        return built[-1]

    environment = bootstrap.Environment(build)
    assert built == []  # nothing before the first event
    first = environment.services()
    assert environment.services() is first
    assert len(built) == 1
    environment.close()
    assert first.database.closed  # type: ignore[attr-defined]
    assert environment.services() is not first  # the next event rebuilds


def test_each_loaded_environment_of_a_function_has_its_own_services() -> None:
    """The local stack loads a private copy of the handler module per environment, so each builds its
    own services (and connection), as two Lambda environments do."""
    spec = read_template(TEMPLATE).functions["HistoryFunction"]
    modules = [sys.modules[load_handler(spec, n).__module__] for n in (1, 2)]
    environments = [module.environment for module in modules]
    assert environments[0] is not environments[1]
    for environment in environments:
        environment.use(memory_services())
    assert environments[0].services() is not environments[1].services()
