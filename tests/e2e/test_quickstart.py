"""`make run`'s script, non-interactively, in a clean folder without DATABASE_URL (the embedded default)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import TEMPLATE

pytestmark = pytest.mark.e2e


def test_quickstart_runs_the_example_and_exits_after_the_first_suite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TESTGENIE_"))}
    command = [sys.executable, "-m", "testgenie_local.cli", "quickstart", "--port", "0", "--exit-after-first"]
    if Path(__file__).resolve().parents[2] / "template.yaml" != TEMPLATE:
        command += ["--template", str(TEMPLATE)]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "PASSED  hello-python" in done.stdout
    assert "4/4 phases · completed" in done.stdout
    assert "/api/v1/executions/" in done.stdout
    # The embedded (or machine) PostgreSQL kept its data in the clean folder, and was stopped again.
    assert "DATABASE_URL" not in done.stderr
    assert "embedded PostgreSQL" in done.stderr or "PostgreSQL binaries" in done.stderr
    assert (tmp_path / ".testgenie-data").is_dir()
    assert "stopped." in done.stderr
    leftovers = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False).stdout
    assert str(tmp_path) not in leftovers
