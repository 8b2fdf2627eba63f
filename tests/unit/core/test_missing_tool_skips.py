"""A skip for a missing tool is a skip on a developer's machine and a failure under CI=true; any
other skip stays a skip (tests/support/tools.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

SAMPLE = """
import pytest
from tests.support.tools import missing_tool, unless_tool

def test_needs_a_tool():
    missing_tool("frobnicator (apt-get install frobnicator)")

@unless_tool(False, "python9")
def test_marked():
    pass

def test_situation():
    pytest.skip("only as root")

def test_runs():
    assert True
"""


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "tests.support.tools", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_missing_tool_is_a_skip(tmp_path: Path, ci: str | None) -> None:
    done = _run(tmp_path, ci)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 3 skipped" in done.stdout


def test_under_ci_a_missing_tool_fails_the_run_and_other_skips_stay(tmp_path: Path) -> None:
    done = _run(tmp_path, "true")
    assert done.returncode == 1, done.stdout
    # A skip in the test body fails it; a skipif mark skips at setup, so it shows as an error there.
    assert "1 failed, 1 passed, 1 skipped, 1 error" in done.stdout
    assert "a tool is missing, so this test did not run: Skipped: missing tool: frobnicator" in done.stdout
    assert "missing tool: python9" in done.stdout
