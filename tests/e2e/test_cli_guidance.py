"""A newcomer's CLI session against `testgenie serve`: the CLI finds the stack by itself, a second
stack keeps off its data dir, and every error names what was not found and the way out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tests.support.stack import TEMPLATE, run_cli, stack_env, start_stack

pytestmark = pytest.mark.e2e


def test_the_cli_finds_the_stack_and_its_errors_point_at_the_fix(
    tmp_path: Path, e2e_scenarios: Path, fresh_database: Callable[[], str]
) -> None:
    work = tmp_path / "work"
    scenarios = tmp_path / "scenarios"
    shutil.copytree(e2e_scenarios / "e2e-pass", scenarios / "e2e-pass")  # one scenario: "1 bundle"
    database_url = fresh_database()
    data = work / ".testgenie-data"  # the default data dir of a stack started in `work`
    stack = start_stack(work, scenarios, database_url, data_dir=data)
    try:
        assert "scenarios: 1 bundle from" in stack.log.read_text()

        # No --api-url, no TESTGENIE_API_URL: the stack on its random port is found from `work`.
        passed = run_cli("execute", "e2e-pass", "--phases", "structure,lint", "--wait", cwd=work)
        assert passed.returncode == 0, passed.stderr
        (execution,) = stack.get("/executions?scenario=e2e-pass")["items"]
        execution_id = execution["executionId"]
        assert stack.get(f"/executions/{execution_id}")["trigger"] == execution["trigger"] == "api"

        # A second stack on the same data dir refuses at once, naming the first one's URL.
        second = subprocess.run(
            [
                *(sys.executable, "-m", "testgenie_local.cli", "serve", "--port", "0"),
                *("--template", str(TEMPLATE), "--scenarios", str(scenarios), "--data-dir", str(data)),
            ],
            cwd=work,
            env=stack_env(database_url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 2, second.stderr
        assert f"is in use by the stack at {stack.url} (pid {stack.info['pid']})" in second.stderr
        assert "another --data-dir" in second.stderr
        assert "PostgreSQL" not in second.stderr  # refused before starting anything
        assert json.loads((data / "stack.json").read_text())["api_url"] == stack.url  # still the first's

        # Misspelt names get the closest known one.
        expectations = {
            ("execute", "e2e-pas"): "scenario 'e2e-pas' was not found; did you mean 'e2e-pass'?",
            (
                "execute",
                "e2e-pass",
                "--preset",
                "smok",
            ): "preset 'smok' is not defined; did you mean 'smoke'?",
            ("execute", "e2e-pass", "--phases", "lnit"): "phase 'lnit' is not defined; did you mean 'lint'?",
            (
                "log",
                execution_id,
                "lnit",
            ): f"phase 'lnit' is unknown; did you mean 'lint'? (execution {execution_id} ran: structure, lint)",
            (
                "log",
                execution_id,
                "docs",
            ): f"phase 'docs' did not run in execution {execution_id} (it ran: structure, lint)",
            (
                "rerun",
                execution_id,
                "--failed-only",
            ): "the execution has no failed phases; rerun it without --failed-only",
        }
        unknown = str(uuid.uuid4())
        expectations[("log", unknown, "unit")] = f"404: execution {unknown} not found"
        for command, message in expectations.items():
            answer = run_cli(*command, cwd=work)
            assert answer.returncode == 2, (command, answer.stdout)
            assert message in answer.stderr, (command, answer.stderr)
            assert "failedOnly" not in answer.stderr

        # The scenario's bundle is gone (a stack restarted on another --scenarios folder, say): a
        # rerun of the old run says which scenario it ran and how to get it back.
        keys = stack.info["aws_developer_keys"]  # the local AWS refuses made-up keys
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.info["aws_endpoint"],
            aws_access_key_id=keys["accessKeyId"],
            aws_secret_access_key=keys["secretAccessKey"],
            region_name="us-east-1",
        )
        bucket = next(iter(stack.info["buckets"].values()))
        s3.delete_object(Bucket=bucket, Key="scenarios/e2e-pass.tar.gz")
        rerun = run_cli("rerun", execution_id, cwd=work)
        assert rerun.returncode == 2
        assert (
            f"execution {execution_id} ran scenario 'e2e-pass', which the service no longer has"
            in rerun.stderr
        ), rerun.stderr
        assert "push that scenario again" in rerun.stderr
    finally:
        assert stack.stop() == 0, stack.tail()

    # Stopped: its stack.json is gone, so nothing points at the dead URL any more.
    assert not (data / "stack.json").exists()
    # A stack.json whose stack does not answer (hung, say): the error names the URL, where it came
    # from, and how to name another API.
    (data / "stack.json").write_text(json.dumps({"api_url": stack.url, "pid": os.getpid()}))
    unreachable = run_cli("scenarios", cwd=work)
    assert unreachable.returncode == 2
    (line,) = unreachable.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the Test Genie API at {stack.url}: "), line
    assert "came from the local stack's .testgenie-data/stack.json" in line
    assert "--api-url URL or TESTGENIE_API_URL" in line
