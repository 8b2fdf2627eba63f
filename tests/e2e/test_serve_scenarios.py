"""Where `testgenie serve` gets its scenarios: a folder, vendored at start as `push` vendors it, or the
bundles already in a local bucket (`--scenarios s3://bucket/prefix`), pushed with the stack's keys."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.stack import run_cli, start_stack

pytestmark = pytest.mark.e2e

NEEDS_PACKAGE = REPO_ROOT / "tests" / "drills" / "scenarios" / "needs-package"


def test_a_folder_scenario_with_python_requirements_runs_without_a_push(
    tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    scenarios = tmp_path / "scenarios"
    shutil.copytree(NEEDS_PACKAGE, scenarios / "needs-package")
    stack = start_stack(tmp_path / "work", scenarios, fresh_database())
    try:
        answer = stack.call(
            "POST", "/executions", {"scenarioName": "needs-package", "phases": ["structure", "unit"]}
        )
        assert answer.status == 200, answer.body[:500]
        body = answer.json()
        assert body["success"] is True, body
        assert [phase["status"] for phase in body["phases"]] == ["passed", "passed"]
    finally:
        assert stack.stop() == 0, stack.tail()


def test_serve_runs_the_bundles_of_a_local_bucket(tmp_path: Path, fresh_database: Callable[[], str]) -> None:
    # The first stack names the template's local bucket; the second serves from it.
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = start_stack(tmp_path / "probe", empty, fresh_database())
    bucket = next(iter(probe.info["buckets"].values()))
    assert probe.stop() == 0, probe.tail()

    data = tmp_path / "data"
    stack = start_stack(tmp_path / "work", f"s3://{bucket}/team", fresh_database(), data_dir=data)
    try:
        assert stack.info["scenarios"] == f"s3://{bucket}/team"
        pushed = run_cli(
            "push",
            str(NEEDS_PACKAGE),
            "--scenario",
            "from-bucket",
            "--prefix",
            "team",
            "--data-dir",
            str(data),
        )
        assert pushed.returncode == 0, pushed.stderr
        answer = stack.call(
            "POST", "/executions", {"scenarioName": "from-bucket", "phases": ["structure", "unit"]}
        )
        assert answer.status == 200, answer.body[:500]
        assert answer.json()["success"] is True, answer.json()
    finally:
        assert stack.stop() == 0, stack.tail()
