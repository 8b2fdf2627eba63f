"""Drills: a scenario's phase attacks the runner that runs it, and another scenario's run stays genuine.

The attacker (scenarios/runner-attacker/attack.py) is real scenario code run by the local
RunnerFunction, as the stack runs it: once without a sandbox (the runner as `nobody`, what
--unsafe-shared-runner gives) and once in the bubblewrap sandbox. The victim is the hello-python
example, whose unit phase has 5 tests.

- Takeover of later runs: the phase leaves a daemon (setsid, double fork, empty environment) and kills
  its runner; the daemon copies the next idle runner's invocation and answer pipes with pidfd_getfd
  and answers `passed 777/777` with a forged log. The runner is non-dumpable, a stopped runner is
  never handed an invocation, and a sandbox's pid namespace ends with its runner.
- Forged answer: the phase copies its own runner's answer pipe and writes `passed 999/999` (with the
  bundle's digest) before exiting 1. The runner is non-dumpable, and an environment that answered
  twice is discarded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testgenie.orchestrator.models import PhasePlan, PhaseStatus
from testgenie.orchestrator.sources.bundles import bundle_digest, pack_folder
from testgenie.runner.client import RunnerFailure, function_error, parse_answer
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation
from testgenie.runner.tenancy import tenant_for
from testgenie_local.lambda_endpoint import LambdaEndpoint
from testgenie_local.polling import wait_for
from testgenie_local.runner_host import LocalRunnerFunction
from testgenie_local.runner_venv import ensure_runner_venv
from testgenie_local.sandbox import Sandbox, SandboxUnavailable, choose_sandbox
from testgenie_local.template import read_template
from testgenie_local.uploads import SignedUploadStore

from tests.support.tools import missing_tool

REPO = Path(__file__).resolve().parents[2]
ATTACKER = Path(__file__).resolve().parent / "scenarios" / "runner-attacker"
VICTIM = REPO / "examples" / "scenarios" / "hello-python"
VICTIM_TESTS = 5
SECRET = "drill-upload-secret-" * 3


class Runner:
    """The real RunnerFunction behind a local endpoint (for its log uploads), one sandbox kind."""

    def __init__(self, sandbox: Sandbox, root: Path) -> None:
        spec = read_template(REPO / "template.yaml").functions["RunnerFunction"]
        self.function = LocalRunnerFunction(spec, ensure_runner_venv(spec.layers), sandbox=sandbox)
        self.artifacts = root / "artifacts"
        self.artifacts.mkdir()
        self.endpoint = LambdaEndpoint(
            {spec.logical_id: self.function}, artifacts_dir=self.artifacts, upload_secret=SECRET
        )
        self.endpoint.start()
        self.store = SignedUploadStore(
            self.artifacts, upload_url=self.endpoint.upload_url, upload_secret=SECRET
        )
        # Bundles where any user may read them (a runner without a sandbox fetches them itself).
        self.bucket = Path(tempfile.mkdtemp(prefix="drill-bundles-", dir="/var/tmp"))
        os.chmod(self.bucket, 0o755)  # noqa: S103

    def publish(self, folder: Path) -> dict[str, Any]:
        data = pack_folder(folder)
        path = self.bucket / f"{bundle_digest(data)}.tar.gz"
        path.write_bytes(data)
        os.chmod(path, 0o644)
        return {"url": path.as_uri(), "sha256": bundle_digest(data), "sizeBytes": len(data)}

    def run(
        self, scenario: str, bundle: dict[str, Any], phase: str
    ) -> tuple[PhaseAnswer | RunnerFailure, str]:
        """One invocation as the coordinator makes it: (its checked answer or failure, the stored log)."""
        execution = uuid.uuid4()
        invocation = PhaseInvocation.model_validate(
            {
                "executionId": str(execution),
                "scenarioName": scenario,
                "bundle": bundle,
                "plan": PhasePlan(scenario_name=scenario, phases=[phase]).model_dump(by_alias=True),
                "phase": phase,
                "timeoutSeconds": 120,
                "logUpload": self.store.upload_target(execution, phase, 600).model_dump(by_alias=True),
            }
        )
        error, raw = self.function.invoke(
            invocation.model_dump_json(by_alias=True).encode(), tenant_for(scenario)
        )
        answer: PhaseAnswer | RunnerFailure
        try:
            answer = parse_answer(raw, invocation) if error is None else function_error(error, raw)
        except RunnerFailure as failure:
            answer = failure
        log = self.artifacts / "executions" / str(execution) / f"{phase}.log"
        return answer, log.read_text(errors="replace") if log.is_file() else ""

    def close(self) -> None:
        self.endpoint.stop()
        self.function.close()
        shutil.rmtree(self.bucket, ignore_errors=True)


def _sandbox(kind: str) -> Sandbox:
    if kind == "shared":
        return Sandbox("shared", network="host")
    try:
        return choose_sandbox(network="none")
    except SandboxUnavailable as exc:
        missing_tool(f"a sandbox ({exc})")


@pytest.fixture(params=["shared", "bubblewrap"])
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runner]:
    if request.param == "shared" and os.geteuid() != 0:
        pytest.skip("without a sandbox the runner is another user only when the stack is root")
    running = Runner(_sandbox(request.param), tmp_path)
    yield running
    running.close()


def _attacker(tmp_path: Path, phase: str, command: str) -> Path:
    folder = tmp_path / "runner-attacker"
    shutil.copytree(ATTACKER, folder)
    (folder / ".testgenie" / "testing.json").write_text(
        json.dumps({"phases": {phase: {"timeout": "60s", "commands": [command]}}})
    )
    return folder


def _daemons(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _assert_genuine(answer: PhaseAnswer | RunnerFailure, log: str) -> None:
    assert isinstance(answer, PhaseAnswer), answer
    assert answer.result.status is PhaseStatus.PASSED, answer.result
    assert answer.result.tests is not None
    assert answer.result.tests.total == VICTIM_TESTS, answer.result.tests
    assert "forged" not in log
    assert f"{VICTIM_TESTS} passed" in log, log[-2000:]


def test_a_daemon_cannot_take_over_the_next_runs_of_another_scenario(runner: Runner, tmp_path: Path) -> None:
    token = f"drill-{uuid.uuid4().hex}"
    attacker = runner.publish(_attacker(tmp_path, "standards", f"python attack.py takeover $PPID {token}"))
    victim = runner.publish(VICTIM)
    try:
        answer, _ = runner.run("runner-attacker", attacker, "standards")
        assert isinstance(answer, RunnerFailure), answer
        assert "signal 9" in answer.message, answer  # it killed its runner
        _assert_genuine(*runner.run("hello-python", victim, "unit"))  # a warm environment, idle in read(0)
        # The daemon (alive only without a pid namespace) gets its chance: wait until it acted or gave up.
        wait_for(
            lambda: all(_comm(pid) in {None, "refused", "attached", "forged"} for pid in _daemons(token)),
            60,
            "the attacker's daemon to find the idle runner",
        )
        _assert_genuine(*runner.run("hello-python", victim, "unit"))
    finally:
        for pid in _daemons(token):
            os.kill(pid, signal.SIGKILL)


def test_a_forged_answer_is_never_taken_and_the_next_run_is_genuine(runner: Runner, tmp_path: Path) -> None:
    attacker = runner.publish(_attacker(tmp_path, "lint", "python attack.py forge $PPID"))
    victim = runner.publish(VICTIM)
    answer, log = runner.run("runner-attacker", attacker, "lint")
    assert isinstance(answer, PhaseAnswer), answer
    assert answer.result.status is PhaseStatus.FAILED, answer.result  # its command exited 1
    assert answer.result.tests is None or answer.result.tests.total != 999
    assert "forge refused" in log, log
    _assert_genuine(*runner.run("hello-python", victim, "unit"))
    _assert_genuine(*runner.run("hello-python", victim, "unit"))
