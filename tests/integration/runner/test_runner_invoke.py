"""The coordinator's invoke path over real HTTP: boto3's lambda:Invoke -> the local Invoke endpoint ->
a separate runner process -> the typed answer, or a RunnerFailure for every way it can go wrong."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from botocore.config import Config
from testgenie.orchestrator.models import PhasePlan
from testgenie.runner.client import LambdaRunnerClient, RunnerFailure
from testgenie.runner.protocol import PhaseInvocation
from testgenie_local.lambda_endpoint import LambdaEndpoint
from testgenie_local.runner_host import LocalRunnerFunction, runner_identity
from testgenie_local.runner_venv import ensure_runner_venv
from testgenie_local.template import FunctionSpec
from testgenie_local.uploads import SignedUploadStore

HERE = Path(__file__).resolve().parent
SECRET = "0123456789abcdef" * 4


def _fake_runner_function(code: Path, tenant_isolation: str | None = None) -> LocalRunnerFunction:
    """tests/integration/runner/fake_runner.py as RunnerFunction, with a 3 s timeout."""
    (code / "fake_runner.py").write_text((HERE / "fake_runner.py").read_text())
    spec = FunctionSpec(
        logical_id="RunnerFunction",
        code_uri=code,
        handler="fake_runner.lambda_handler",
        timeout_seconds=3,
        environment={},
        tenant_isolation=tenant_isolation,
    )
    return LocalRunnerFunction(spec, ensure_runner_venv())


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambdaEndpoint, Path]]:
    function = _fake_runner_function(tmp_path_factory.mktemp("fake-runner"))
    artifacts = tmp_path_factory.mktemp("artifacts")
    server = LambdaEndpoint({"RunnerFunction": function}, artifacts_dir=artifacts, upload_secret=SECRET)
    server.start()
    yield server, artifacts
    server.stop()
    function.close()


@pytest.fixture(scope="module")
def tenant_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaEndpoint]:
    """The fake runner as a multi-tenant function (TenancyConfig PER_TENANT)."""
    function = _fake_runner_function(tmp_path_factory.mktemp("fake-tenant-runner"), "PER_TENANT")
    server = LambdaEndpoint({"RunnerFunction": function}, artifacts_dir=None, upload_secret=SECRET)
    server.start()
    yield server
    server.stop()
    function.close()


def test_an_environment_serves_one_tenant_only(tenant_endpoint: LambdaEndpoint) -> None:
    client = _client(tenant_endpoint)
    pids = {
        name: [client.run_phase(_invocation(name), 30).warnings[0] for _ in range(2)]
        for name in ("pid-a", "pid-b")
    }
    assert pids["pid-a"][0] == pids["pid-a"][1]  # warm, and its own
    assert pids["pid-b"][0] == pids["pid-b"][1]
    assert pids["pid-a"][0] != pids["pid-b"][0]


def test_a_multi_tenant_function_refuses_an_invoke_without_a_tenant(tenant_endpoint: LambdaEndpoint) -> None:
    request = urllib.request.Request(  # noqa: S310 - a local http URL
        f"{tenant_endpoint.url}/2015-03-31/functions/RunnerFunction/invocations",
        data=_invocation("ok").model_dump_json(by_alias=True).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 400
    assert "needs a TenantId" in refused.value.read().decode()


def _client(endpoint: LambdaEndpoint) -> LambdaRunnerClient:
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
    return LambdaRunnerClient("RunnerFunction", client=lambda_client)


def _invocation(mode: str) -> PhaseInvocation:
    execution = uuid4()
    return PhaseInvocation.model_validate(
        {
            "executionId": str(execution),
            "scenarioName": mode,
            "bundle": {"url": "https://bucket.example/b.tar.gz", "sha256": "a" * 64, "sizeBytes": 10},
            "plan": PhasePlan(scenario_name=mode, phases=["unit"]).model_dump(by_alias=True),
            "phase": "unit",
            "timeoutSeconds": 60,
            "logUpload": {"url": "https://bucket.example/put", "key": f"executions/{execution}/unit.log"},
        }
    )


def test_a_valid_answer_comes_back_typed(endpoint: tuple[LambdaEndpoint, Path]) -> None:
    invocation = _invocation("ok")
    answer = _client(endpoint[0]).run_phase(invocation, wait_seconds=30)
    assert answer.execution_id == invocation.execution_id
    assert answer.result.name == "unit"
    assert answer.result.status == "passed"


@pytest.mark.parametrize(
    ("mode", "timed_out", "message"),
    [
        ("raise", False, "the runner crashed (RuntimeError): the runner fell over"),
        ("exit", False, "Runtime exited with error: exit status 3"),
        ("hang", True, "the runner timed out: Task timed out after 3.00 seconds"),
        ("junk", False, "malformed runner answer:"),
        ("other-phase", False, "malformed runner answer: answer is for phase 'lint', not 'unit'"),
        ("other-bundle", False, "malformed runner answer: answer ran another bundle than the one planned"),
        ("no-digest", False, "malformed runner answer: a passed answer without the verified bundle digest"),
    ],
)
def test_every_way_the_runner_fails_is_a_runner_failure(
    endpoint: tuple[LambdaEndpoint, Path], mode: str, timed_out: bool, message: str
) -> None:
    with pytest.raises(RunnerFailure) as failure:
        _client(endpoint[0]).run_phase(_invocation(mode), wait_seconds=30)
    assert failure.value.timed_out is timed_out
    assert message in failure.value.message


def test_the_coordinator_stops_waiting_at_its_own_bound(endpoint: tuple[LambdaEndpoint, Path]) -> None:
    with pytest.raises(RunnerFailure) as failure:
        _client(endpoint[0]).run_phase(_invocation("hang"), wait_seconds=0.5)
    assert failure.value.timed_out
    # Its own bound, not the function's 3 s Timeout ("Task timed out after 3.00 seconds").
    assert failure.value.message == "the runner gave no answer within 0.5s"


def test_the_runner_process_gets_a_built_environment_and_no_privileges(
    endpoint: tuple[LambdaEndpoint, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:hunter2@db/x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-runner")
    answer = _client(endpoint[0]).run_phase(_invocation("whoami"), wait_seconds=30)
    seen: dict[str, Any] = json.loads(answer.warnings[0])
    assert not [name for name in seen["env"] if name.startswith(("DATABASE_", "AWS_ACCESS", "AWS_SECRET"))]
    assert "_HANDLER" in seen["env"]
    assert 0 < seen["remaining"] <= 3000
    identity = runner_identity()
    if os.geteuid() == 0:
        assert identity.isolated
        assert seen["uid"] == identity.uid != 0
    else:
        assert not identity.isolated


def _put(url: str, data: bytes) -> int:
    request = urllib.request.Request(url, data=data, method="PUT")  # noqa: S310 - a local http URL
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_log_uploads_need_a_valid_signature_for_that_very_key(endpoint: tuple[LambdaEndpoint, Path]) -> None:
    server, artifacts = endpoint
    store = SignedUploadStore(artifacts, upload_url=server.upload_url, upload_secret=SECRET)
    execution = uuid4()
    target = store.upload_target(execution, "unit", 60)
    assert _put(target.url, b"the log\n") == 200
    assert store.read_log(execution, "unit", 100) == "the log\n"
    other = uuid4()
    assert _put(target.url.replace(str(execution), str(other)), b"forged") == 403
    assert store.read_log(other, "unit", 100) is None
    expired = SignedUploadStore(artifacts, upload_url=server.upload_url, upload_secret=SECRET)
    assert _put(expired.upload_target(execution, "lint", -5).url, b"late") == 403
    wrong = SignedUploadStore(artifacts, upload_url=server.upload_url, upload_secret="f" * 64)
    assert _put(wrong.upload_target(execution, "lint", 60).url, b"unsigned") == 403
    assert store.read_log(execution, "lint", 100) is None


@pytest.mark.parametrize("stopping", [False, True])
def test_a_frozen_idle_environment_is_replaced_and_only_a_running_stack_warns_of_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, stopping: bool
) -> None:
    """The stack freezes its runners as it stops (stack.stop): finding one frozen then is expected,
    not a warning on the way out; found while serving, it is one."""
    function = _fake_runner_function(tmp_path)
    try:
        payload = _invocation("pid-a").model_dump_json(by_alias=True).encode()
        first = json.loads(function.invoke(payload)[1])["warnings"][0]
        os.kill(int(first), signal.SIGSTOP)
        _wait_until_stopped(int(first))
        if stopping:
            function.stopping.set()
        with caplog.at_level(logging.DEBUG, logger="testgenie.local.runner"):
            error, answer = function.invoke(payload)
        assert error is None, answer
        assert json.loads(answer)["warnings"][0] != first  # a new environment served it
        discarded = [r for r in caplog.records if "idle environment discarded" in r.getMessage()]
        assert [r.levelno for r in discarded] == [logging.DEBUG if stopping else logging.WARNING]
    finally:
        function.close()


def _wait_until_stopped(pid: int) -> None:
    """SIGSTOP takes effect after kill() returns: wait for the kernel to say so (an event, bounded)."""
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in {"T", "t"}:
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)
