"""Reruns, retention and the coordinator's runner path on the in-memory fakes. No database, no AWS: the
runner is FakeRunnerClient, the artifact store MemoryArtifactStore, wired by bootstrap as in Lambda."""

from __future__ import annotations

from datetime import timedelta

import pytest
from testgenie.bootstrap import Services
from testgenie.errors import NotFoundError, ValidationError
from testgenie.execution.service import SuiteExecutionInput
from testgenie.orchestrator.models import (
    Classification,
    Outcome,
    PhaseResult,
    PhaseStatus,
    SuitePlan,
)
from testgenie.queue.models import SuiteRequestStatus
from testgenie.records import Trigger
from testgenie.runner.client import RunnerFailure
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation

from tests.support.fakes import (
    FakeRunnerClient,
    MemoryPorts,
    MemoryTimingStore,
    memory_ports,
    memory_services,
)
from tests.support.paths import EXAMPLES
from tests.support.records import run_record

pytestmark = pytest.mark.nodb


@pytest.fixture
def ports() -> MemoryPorts:
    return memory_ports()


@pytest.fixture
def services(ports: MemoryPorts) -> Services:
    return memory_services(ports, retention_days=30)


def _store(ports: MemoryPorts, phases: dict[str, str], days_old: float = 0, **fields: object) -> object:
    record = run_record("demo", ports.clock() - timedelta(days=days_old), phases, **fields)  # type: ignore[arg-type]
    ports.execution_store.create(None, record)
    return record


# -- reruns ------------------------------------------------------------------------------------------


def test_a_rerun_queues_the_same_plan_linked_to_its_execution(services: Services, ports: MemoryPorts) -> None:
    record = _store(ports, {"unit": "passed", "docs": "failed"}, preset="quick")
    request = services.reruns.rerun(record.id)  # type: ignore[attr-defined]
    assert (request.trigger, request.rerun_of, request.preset) == (Trigger.RERUN, record.id, "quick")  # type: ignore[attr-defined]
    assert request.status is SuiteRequestStatus.QUEUED
    assert ports.publisher.published == [request.id]


def test_a_rerun_of_the_failed_phases_only_names_them(services: Services, ports: MemoryPorts) -> None:
    record = _store(ports, {"unit": "passed", "docs": "failed"})
    request = services.reruns.rerun(record.id, failed_only=True)  # type: ignore[attr-defined]
    assert (request.phases, request.skip) == (["docs"], None)


def test_a_rerun_of_failed_phases_of_a_passed_run_is_refused(services: Services, ports: MemoryPorts) -> None:
    record = _store(ports, {"unit": "passed"})
    with pytest.raises(ValidationError, match="no failed phases"):
        services.reruns.rerun(record.id, failed_only=True)  # type: ignore[attr-defined]
    assert ports.database.tables.requests == {}


def test_a_rerun_of_an_unknown_execution_is_not_found(services: Services) -> None:
    from uuid import uuid4

    with pytest.raises(NotFoundError, match="execution not found"):
        services.reruns.rerun(uuid4())


# -- retention ---------------------------------------------------------------------------------------


def test_retention_deletes_old_unpinned_runs_and_their_logs(services: Services, ports: MemoryPorts) -> None:
    old = _store(ports, {"unit": "passed"}, days_old=31)
    pinned = _store(ports, {"unit": "passed"}, days_old=40)
    fresh = _store(ports, {"unit": "passed"}, days_old=1)
    log = ports.artifacts.put_log(old.id, "unit", b"old log")  # type: ignore[attr-defined]
    ports.database.tables.executions[old.id] = old.model_copy(  # type: ignore[attr-defined]
        update={"phases": [p.model_copy(update={"log_path": log}) for p in old.phases]}  # type: ignore[attr-defined]
    )
    assert services.retention.pin(pinned.id, True) == {"executionId": str(pinned.id), "pinned": True}  # type: ignore[attr-defined]
    report = services.retention.prune()
    assert (report.deleted, report.cutoff) == (1, ports.clock() - timedelta(days=30))
    assert set(ports.database.tables.executions) == {pinned.id, fresh.id}  # type: ignore[attr-defined]
    assert ports.artifacts.objects == {}


def test_retention_off_deletes_nothing(ports: MemoryPorts) -> None:
    _store(ports, {"unit": "passed"}, days_old=400)
    assert memory_services(ports, retention_days=0).retention.prune().deleted == 0
    assert ports.execution_store.count() == 1


def test_pinning_an_unknown_execution_is_not_found(services: Services) -> None:
    from uuid import uuid4

    with pytest.raises(NotFoundError, match="execution not found"):
        services.retention.pin(uuid4(), True)


# -- the runner path ---------------------------------------------------------------------------------


def _passed(invocation: PhaseInvocation) -> PhaseAnswer:
    result = PhaseResult(name=invocation.phase, status=PhaseStatus.PASSED, duration_seconds=1, duration_ms=10)
    return PhaseAnswer(
        execution_id=invocation.execution_id,
        phase=invocation.phase,
        result=result,
        log_stored=True,
        bundle_sha256=invocation.bundle.sha256,
    )


def _runner_services(ports: MemoryPorts, runner: FakeRunnerClient) -> Services:
    """What bootstrap builds in ExecuteFunction, with the runner and the stores faked."""
    from testgenie import bootstrap
    from testgenie.settings import Settings

    settings = Settings(scenarios_source=str(EXAMPLES), runner_function_name="RunnerFunction")
    return bootstrap.build(
        settings,
        database=ports.database,
        publisher=ports.publisher,
        artifacts=ports.artifacts,
        runner=runner,
        clock=ports.clock,
        queue_store=ports.queue_store,
        execution_store=ports.execution_store,
        timing_store=MemoryTimingStore(),
    )


def test_every_phase_runs_in_the_runner_with_its_log_upload(ports: MemoryPorts) -> None:
    runner = FakeRunnerClient(_passed)
    services = _runner_services(ports, runner)
    request = SuitePlan(scenario_name="hello-python", phases=["structure", "unit"])
    result = services.execution.execute(SuiteExecutionInput(request))
    assert (result.outcome, [p.name for p in result.phases]) == (Outcome.PASSED, ["structure", "unit"])
    assert [i.phase for i in runner.invocations] == ["structure", "unit"]
    assert {i.execution_id for i in runner.invocations} == {result.execution_id}
    assert [p.log_path for p in result.phases] == [i.log_upload.key for i in runner.invocations]
    assert result.source_digest == runner.invocations[0].bundle.source_digest


def test_a_runner_that_times_out_ends_the_run_as_a_timeout(ports: MemoryPorts) -> None:
    def timed_out(invocation: PhaseInvocation) -> PhaseAnswer:
        raise RunnerFailure("the runner timed out: Task timed out after 900.00 seconds", timed_out=True)

    services = _runner_services(ports, FakeRunnerClient(timed_out))
    request = SuitePlan(scenario_name="hello-python", phases=["structure", "unit"])
    result = services.execution.execute(SuiteExecutionInput(request))
    assert result.outcome is Outcome.TIMEOUT
    assert [(p.name, p.classification) for p in result.phases] == [("structure", Classification.TIMEOUT)]


def test_a_runner_that_crashes_ends_the_run_errored(ports: MemoryPorts) -> None:
    def crashed(invocation: PhaseInvocation) -> PhaseAnswer:
        raise RunnerFailure("the runner crashed (Runtime.ExitError): signal: killed")

    result = _runner_services(ports, FakeRunnerClient(crashed)).execution.execute(
        SuiteExecutionInput(SuitePlan(scenario_name="hello-python", phases=["structure"]))
    )
    assert result.outcome is Outcome.ERRORED
    assert result.phases[0].classification is Classification.SYSTEM
    assert ports.execution_store.count() == 1
