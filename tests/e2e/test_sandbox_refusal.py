"""`testgenie serve` refuses to start where scenarios cannot be sandboxed, and says why and what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import E2E_SCENARIOS
from tests.support.stack import TEMPLATE, stack_env

pytestmark = pytest.mark.e2e


def test_serve_refuses_to_start_without_bubblewrap(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "testgenie_local.cli",
            "serve",
            "--port",
            "0",
            "--template",
            str(TEMPLATE),
            "--scenarios",
            str(E2E_SCENARIOS),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=stack_env(None, TESTGENIE_BWRAP="/nonexistent/bwrap"),
        check=False,
    )
    assert done.returncode != 0
    assert "the runner's sandbox is unavailable: bubblewrap (bwrap) is not installed" in done.stderr
    assert "--unsafe-shared-runner" in done.stderr
    assert "PostgreSQL" not in done.stderr  # refused before anything started
