"""The host stages a sandbox's bundle once per environment and digest: the next phase of the same
bundle is not downloaded again, and a bundle with other bytes always is."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testgenie.orchestrator.models import PhasePlan
from testgenie.orchestrator.sources.bundles import bundle_digest, pack_folder
from testgenie.runner.client import parse_answer
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation
from testgenie.runner.tenancy import tenant_for
from testgenie_local import runner_host
from testgenie_local.lambda_endpoint import LambdaEndpoint
from testgenie_local.runner_host import LocalRunnerFunction
from testgenie_local.runner_venv import ensure_runner_venv
from testgenie_local.sandbox import SandboxUnavailable, choose_sandbox
from testgenie_local.template import read_template
from testgenie_local.uploads import SignedUploadStore

from tests.support.tools import missing_tool

REPO = Path(__file__).resolve().parents[3]
SECRET = "staging-test-upload-secret-" * 2
SCENARIO = "staged"


class Host:
    def __init__(self, root: Path) -> None:
        try:
            sandbox = choose_sandbox(network="none")
        except SandboxUnavailable as exc:
            missing_tool(f"a sandbox ({exc})")
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
        self.bucket = Path(tempfile.mkdtemp(prefix="staging-bundles-", dir="/var/tmp"))
        os.chmod(self.bucket, 0o755)  # noqa: S103 - bundles a runner user may read

    def publish(self, folder: Path) -> dict[str, Any]:
        data = pack_folder(folder)
        path = self.bucket / f"{bundle_digest(data)}.tar.gz"
        path.write_bytes(data)
        os.chmod(path, 0o644)
        return {"url": path.as_uri(), "sha256": bundle_digest(data), "sizeBytes": len(data)}

    def run(self, bundle: dict[str, Any]) -> str:
        """The lint phase's log (its command prints the scenario's marker file)."""
        execution = uuid.uuid4()
        invocation = PhaseInvocation.model_validate(
            {
                "executionId": str(execution),
                "scenarioName": SCENARIO,
                "bundle": bundle,
                "plan": PhasePlan(scenario_name=SCENARIO, phases=["lint"]).model_dump(by_alias=True),
                "phase": "lint",
                "timeoutSeconds": 60,
                "logUpload": self.store.upload_target(execution, "lint", 600).model_dump(by_alias=True),
            }
        )
        error, raw = self.function.invoke(
            invocation.model_dump_json(by_alias=True).encode(), tenant_for(SCENARIO)
        )
        assert error is None, raw
        answer = parse_answer(raw, invocation)
        assert isinstance(answer, PhaseAnswer)
        return (self.artifacts / "executions" / str(execution) / "lint.log").read_text()

    def close(self) -> None:
        self.endpoint.stop()
        self.function.close()
        shutil.rmtree(self.bucket, ignore_errors=True)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    running = Host(tmp_path)
    yield running
    running.close()


def _scenario(folder: Path, marker: str) -> Path:
    (folder / ".testgenie").mkdir(parents=True, exist_ok=True)
    (folder / "marker.txt").write_text(marker)
    (folder / ".testgenie" / "testing.json").write_text(
        json.dumps({"phases": {"lint": {"commands": ["cat marker.txt"]}}})
    )
    return folder


def test_a_bundle_is_fetched_once_per_environment_and_other_bytes_always(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    fetch = runner_host._fetch_bytes

    def counting(url: str, limit: int) -> bytes:
        fetched.append(url)
        return fetch(url, limit)

    monkeypatch.setattr(runner_host, "_fetch_bytes", counting)
    first = host.publish(_scenario(tmp_path / SCENARIO, "first version"))
    assert "first version" in host.run(first)
    assert "first version" in host.run(first)  # the same warm environment, the same bytes
    assert len(fetched) == 1
    second = host.publish(_scenario(tmp_path / SCENARIO, "second version"))
    assert "second version" in host.run(second)
    assert len(fetched) == 2
    assert "first version" in host.run(first)  # back to the first bytes: fetched again
    assert len(fetched) == 3
