"""SuiteOrchestrator end to end on real scenario folders: results, logs, progress, cancellation, limits."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, NoReturn
from uuid import UUID, uuid4

import pytest
from testgenie.artifacts import LocalArtifactStore, UploadTarget
from testgenie.errors import ValidationError
from testgenie.orchestrator import phases
from testgenie.orchestrator.models import (
    Classification,
    Outcome,
    PhaseResult,
    PhaseStatus,
    SuitePlan,
)
from testgenie.orchestrator.run.engine import SuiteOrchestrator, in_process_orchestrator
from testgenie.orchestrator.run.engine_protocol import SuiteEngine
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.settings import Settings

from tests.support.orchestrator import in_process_engine, wait_until_gone

ScenarioFactory = Any


def request(scenario: str = "demo", **fields: Any) -> SuitePlan:
    return SuitePlan(scenario_name=scenario, **fields)


def statuses(result: Any) -> dict[str, str]:
    return {phase.name: phase.status.value for phase in result.phases}


def commands_scenario(make_scenario: ScenarioFactory, phases: dict[str, Any], **extra: Any) -> Path:
    folder: Path = make_scenario("demo", {"phases": phases, **extra})
    return folder


# -- the example scenarios ------------------------------------------------------------------------


def test_hello_python_passes_quick(
    examples_orchestrator: SuiteOrchestrator, artifacts: LocalArtifactStore, workspaces: Path
) -> None:
    execution_id = uuid4()
    result = examples_orchestrator.execute(request("hello-python", preset="quick"), execution_id)
    assert result.outcome == Outcome.PASSED, [p.error for p in result.phases]
    assert result.success
    assert result.execution_id == execution_id
    assert result.preset == "quick"
    assert statuses(result) == {
        "structure": "passed",
        "standards": "passed",
        "docs": "passed",
        "unit": "passed",
    }
    unit = result.phases[3]
    assert unit.tests is not None
    assert unit.tests.failed == 0
    assert unit.tests.passed >= 4
    assert unit.log_path == f"executions/{execution_id}/unit.log"
    log = artifacts.read_log(execution_id, "unit", 100_000)
    assert log is not None
    assert "passed" in log
    assert "OBSERVATIONS:" in log
    assert list(workspaces.iterdir()) == []  # the private copy is gone


def test_hello_python_passes_comprehensive(examples_orchestrator: SuiteOrchestrator) -> None:
    result = examples_orchestrator.execute(request("hello-python", preset="comprehensive"), uuid4())
    assert result.outcome == Outcome.PASSED, [p.error for p in result.phases]
    assert len(result.phases) == 10
    assert statuses(result)["playbooks"] == "skipped"  # no service to drive: nothing configured
    assert statuses(result)["business"] == "passed"  # [REQ:…] tests of unit and integration
    assert result.phase_summary.skipped == 1
    assert result.phase_summary.passed == 9


def test_broken_python_fails_with_a_test_failure_and_a_timeout(
    examples_orchestrator: SuiteOrchestrator,
) -> None:
    result = examples_orchestrator.execute(request("broken-python", phases=["unit", "integration"]), uuid4())
    assert result.outcome == Outcome.FAILED
    assert not result.success
    unit, integration = result.phases
    assert unit.status == PhaseStatus.FAILED
    assert unit.classification == Classification.TEST_FAILURE
    assert unit.error is not None
    assert "test_mean_of_nothing_is_zero" in unit.error
    assert integration.classification == Classification.TIMEOUT
    assert integration.error == "phase timed out after 2s"
    assert integration.remediation
    failing = [(t.name, t.signature) for t in unit.failing_tests or []]
    assert any(
        name.endswith("test_mean_of_nothing_is_zero") and signature.startswith("ZeroDivisionError")
        for name, signature in failing
    ), failing
    assert result.source_digest is not None
    assert result.source_digest.startswith("sha256:")


def test_the_source_digest_follows_the_files_that_ran(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    folder = commands_scenario(make_scenario, {"lint": {"commands": ["true"]}})
    first = orchestrator.execute(request(phases=["lint"]), uuid4()).source_digest
    again = orchestrator.execute(request(phases=["lint"]), uuid4()).source_digest
    (folder / "NEW.md").write_text("changed")
    changed = orchestrator.execute(request(phases=["lint"]), uuid4()).source_digest

    assert first is not None
    assert first == again
    assert changed != first


# -- execution rules ------------------------------------------------------------------------------


def test_default_run_has_every_phase_and_skips_what_is_not_configured(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    commands_scenario(make_scenario, {"lint": {"commands": ["true"]}, "integration": {"enabled": False}})
    result = orchestrator.execute(request(), uuid4())
    assert [p.name for p in result.phases] == [
        "structure", "standards", "dependencies", "lint", "docs", "smoke",
        "unit", "integration", "playbooks", "business", "performance",
    ]  # fmt: skip
    assert statuses(result)["lint"] == "passed"
    assert statuses(result)["integration"] == "skipped"
    assert "disabled" in (result.phases[7].observations or [])[-1].text
    assert result.outcome == Outcome.PASSED
    assert result.success
    summary = result.phase_summary
    assert (summary.total, summary.passed, summary.failed, summary.skipped) == (11, 2, 0, 9)


def test_fail_fast_stops_after_the_first_failure(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    commands_scenario(make_scenario, {"standards": {"commands": ["exit 1"]}, "lint": {"commands": ["true"]}})
    result = orchestrator.execute(request(phases=["standards", "lint"], fail_fast=True), uuid4())
    assert [p.name for p in result.phases] == ["standards"]
    assert result.outcome == Outcome.FAILED
    without = orchestrator.execute(request(phases=["standards", "lint"]), uuid4())
    assert [p.name for p in without.phases] == ["standards", "lint"]


def test_progress_after_each_phase_and_cancellation_between_phases(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    commands_scenario(make_scenario, {name: {"commands": ["true"]} for name in ("standards", "lint", "unit")})
    seen: list[tuple[list[str], list[str]]] = []

    def progress(results: list[PhaseResult], planned: list[str]) -> None:
        seen.append(([r.name for r in results], planned))

    result = orchestrator.execute(
        request(phases=["standards", "lint", "unit"]),
        uuid4(),
        on_progress=progress,
        should_stop=lambda: len(seen) >= 2,
    )
    planned = ["standards", "lint", "unit"]
    assert seen == [(["standards"], planned), (["standards", "lint"], planned)]
    assert result.outcome == Outcome.CANCELLED
    assert result.success is False  # two phases passed, but the run did not run all it planned
    assert [p.name for p in result.phases] == ["standards", "lint"]
    assert result.warnings == ["run cancelled before phase 'unit'"]


def test_an_unknown_key_of_testing_json_is_a_warning_on_the_execution(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    commands_scenario(make_scenario, {"lint": {"commands": ["true"], "comand": ["false"]}})

    result = orchestrator.execute(request(phases=["lint"]), uuid4())

    assert result.outcome == Outcome.PASSED
    assert result.warnings == [
        ".testgenie/testing.json: unknown key 'phases.lint.comand' was ignored (did you mean 'commands'?)"
    ]


def test_failing_callbacks_do_not_end_the_run(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    commands_scenario(make_scenario, {"lint": {"commands": ["true"]}})

    def broken(*_: Any) -> NoReturn:
        raise RuntimeError("db down")

    result = orchestrator.execute(request(phases=["lint"]), uuid4(), on_progress=broken, should_stop=broken)
    assert (result.outcome, result.success) == (Outcome.PASSED, True)
    assert result.warnings == ["cancellation check failed: db down", "progress callback failed: db down"]


def test_run_deadline_ends_the_run_with_outcome_timeout(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    commands_scenario(
        make_scenario, {"standards": {"commands": ["sleep 30"]}, "lint": {"commands": ["true"]}}
    )
    result = orchestrator.execute(
        request(phases=["standards", "lint"]), uuid4(), deadline=time.monotonic() + 0.5
    )
    assert result.outcome == Outcome.TIMEOUT
    assert result.success is False
    assert [p.name for p in result.phases] == ["standards"]
    assert result.phases[0].classification == Classification.TIMEOUT
    assert result.phases[0].error == "phase stopped at the run's deadline"

    passed = orchestrator.execute(request(phases=["lint"]), uuid4(), deadline=time.monotonic() - 1)
    assert passed.outcome == Outcome.TIMEOUT
    assert passed.success is False
    assert passed.phases == []


def test_phase_timeout_leaves_no_process_behind(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pids"
    script = f"sleep 300 &\necho $! > {pidfile}\nsetsid_free() {{ sleep 300; }}\nsetsid_free &\necho $! >> {pidfile}\nwait\n"
    make_scenario("demo", {"phases": {"hang": {"timeout": "1s"}}}, {".testgenie/phases/test-hang.sh": script})
    result = orchestrator.execute(request(phases=["hang"]), uuid4())
    phase = result.phases[0]
    assert phase.status == PhaseStatus.FAILED
    assert phase.classification == Classification.TIMEOUT
    assert phase.error == "phase timed out after 1s"
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        assert wait_until_gone(pid), f"process {pid} survived the phase timeout"


def test_a_crashing_runner_is_a_failed_phase(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_scenario("demo", {})

    def explode(*_: Any) -> None:
        raise KeyError("oops")

    monkeypatch.setitem(phases.PHASE_KINDS, "docs", explode)
    result = orchestrator.execute(request(phases=["docs", "structure"]), uuid4())
    docs = result.phases[0]
    assert docs.status == PhaseStatus.FAILED
    assert docs.classification == Classification.SYSTEM
    assert docs.error == "the docs runner crashed: KeyError: 'oops'"
    assert result.phases[1].status == PhaseStatus.PASSED  # the run went on


def test_commands_get_a_scrubbed_environment(
    orchestrator: SuiteOrchestrator,
    make_scenario: ScenarioFactory,
    artifacts: LocalArtifactStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://service:secret@db/testgenie")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "service-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "service-token")
    monkeypatch.setenv("SOME_SERVICE_SETTING", "x")
    make_scenario(
        "demo",
        {
            "env": {"SCENARIO_VAR": "mine"},
            "phases": {"lint": {"commands": ["env"], "env": {"PHASE_VAR": "p"}}},
        },
    )
    execution_id = uuid4()
    orchestrator.execute(request(phases=["lint"]), execution_id)
    log = artifacts.read_log(execution_id, "lint", 1_000_000)
    assert log is not None
    variables = dict(
        line.split("=", 1) for line in log.splitlines() if "=" in line and not line.startswith(("$", "="))
    )
    assert "DATABASE_URL" not in variables
    assert not [name for name in variables if name.startswith("AWS_")]
    assert "SOME_SERVICE_SETTING" not in variables
    assert "secret" not in log
    assert variables["SCENARIO_VAR"] == "mine"
    assert variables["PHASE_VAR"] == "p"
    assert variables["TESTGENIE_EXECUTION_ID"] == str(execution_id)
    assert variables["TESTGENIE_PHASE"] == "lint"
    home, tmp, scenario_dir = (
        Path(variables["HOME"]),
        Path(variables["TMPDIR"]),
        Path(variables["TESTGENIE_SCENARIO_DIR"]),
    )
    assert home != Path(os.environ.get("HOME", "/root"))
    assert home.parent == tmp.parent == scenario_dir.parent  # all inside the run's private workspace
    assert not scenario_dir.exists()  # and removed after the run
    assert set(variables) >= {"PATH", "LANG"}


def test_commands_work_on_a_copy(orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory) -> None:
    folder = make_scenario(
        "demo", {"phases": {"lint": {"commands": ["rm README.md && touch created"]}}}, {"README.md": "x"}
    )
    result = orchestrator.execute(request(phases=["lint"]), uuid4())
    assert result.success
    assert (folder / "README.md").exists()
    assert not (folder / "created").exists()


def test_logs_are_capped_with_a_visible_note(
    scenarios_root: Path, make_scenario: ScenarioFactory, artifacts: LocalArtifactStore
) -> None:
    orchestrator = in_process_engine(LocalScenarioSource(scenarios_root), artifacts, log_cap_bytes=16 * 1024)
    make_scenario("demo", {"phases": {"lint": {"commands": ["seq 1 100000"]}}})
    execution_id = uuid4()
    orchestrator.execute(request(phases=["lint"]), execution_id)
    log = artifacts.read_log(execution_id, "lint", 10_000_000)
    assert log is not None
    assert len(log.encode()) < 17 * 1024
    assert "bytes truncated by test-genie" in log
    assert "100000\n" in log  # the tail (where failures are reported) is kept


def test_a_log_that_cannot_be_stored_is_a_warning(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    class BrokenStore:
        def put_log(self, execution_id: UUID | str, phase: str, data: bytes) -> str:
            raise OSError("disk full")

        def read_log(self, execution_id: UUID | str, phase: str, tail_bytes: int) -> str | None:
            return None

        def upload_target(self, execution_id: UUID | str, phase: str, expires_seconds: int) -> UploadTarget:
            raise AssertionError("in-process phases store their logs themselves")

        def delete_logs(self, keys: list[str]) -> None:
            raise AssertionError("a run never deletes logs")

    broken = in_process_engine(orchestrator.scenarios, BrokenStore(), 60)
    make_scenario("demo", {"phases": {"lint": {"commands": ["true"]}}})
    result = broken.execute(request(phases=["lint"]), uuid4())
    assert result.success
    assert result.phases[0].log_path == ""
    assert result.warnings == ["the log of phase 'lint' could not be stored: disk full"]


def test_result_json_uses_the_contract_keys(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    make_scenario("demo", {"phases": {"lint": {"commands": ["true"]}}})
    body = orchestrator.execute(request(preset="smoke"), uuid4()).to_json_dict()
    assert set(body) >= {
        "executionId",
        "scenarioName",
        "startedAt",
        "completedAt",
        "success",
        "preset",
        "outcome",
        "phases",
        "phaseSummary",
    }
    assert set(body["phaseSummary"]) == {
        "total",
        "passed",
        "failed",
        "skipped",
        "durationSeconds",
        "observationCount",
    }
    assert set(body["phases"][0]) >= {"name", "status", "durationSeconds", "durationMs", "logPath"}


# -- planning through the engine ------------------------------------------------------------------


def test_plan_validates_scenario_and_config(
    orchestrator: SuiteOrchestrator, make_scenario: ScenarioFactory
) -> None:
    with pytest.raises(ValidationError, match="scenario 'ghost' was not found"):
        orchestrator.plan(request("ghost"))
    with pytest.raises(ValidationError, match="scenarioName must contain only"):
        orchestrator.plan(request("../etc"))
    folder = make_scenario("demo")
    (folder / ".testgenie").mkdir()
    (folder / ".testgenie" / "testing.json").write_text('{"phases": {"unit": {"timeout": "forever"}}}')
    with pytest.raises(ValidationError, match=r"invalid .testgenie/testing.json: phases.unit.timeout"):
        orchestrator.plan(request())
    (folder / ".testgenie" / "testing.json").write_text('{"phases": {"unit": {"timeout": "5m"}}}')
    plan = orchestrator.plan(request(preset="quick"))
    assert plan.phases == ["structure", "standards", "docs", "unit"]
    assert plan.timeouts["unit"] == 300


def test_satisfies_the_engine_protocol_and_builds_from_settings(tmp_path: Path) -> None:
    engine: SuiteEngine = in_process_orchestrator(
        Settings(scenarios_source=str(tmp_path), artifacts_dir=tmp_path / "a", phase_timeout_seconds=77)
    )
    assert isinstance(engine, SuiteOrchestrator)
    assert engine.default_phase_timeout == 77
    assert isinstance(engine.scenarios, LocalScenarioSource)
    assert isinstance(engine.artifacts, LocalArtifactStore)
