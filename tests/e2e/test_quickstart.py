"""`make run`'s script, non-interactively, in a clean folder without DATABASE_URL (the embedded default)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.stack import TEMPLATE

pytestmark = pytest.mark.e2e


def test_quickstart_runs_the_example_and_exits_after_the_first_suite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TESTGENIE_"))}
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "testgenie_local.cli",
        "quickstart",
        "--port",
        str(port),
        "--exit-after-first",
    ]
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
    # It ends with the run's dashboard page, then every phase's log; the CLI hints need no URL from
    # here (the CLI finds the stack by its data dir).
    page = re.search(
        rf"See it in the dashboard: http://127\.0\.0\.1:{port}/#/executions/([0-9a-f-]{{36}})\n", done.stdout
    )
    assert page is not None, done.stdout
    assert f"/api/v1/executions/{page.group(1)}\n" in done.stdout
    assert done.stdout.count("/log\n") == 4, done.stdout
    assert "\n  testgenie history\n" in done.stdout
    # The embedded (or machine) PostgreSQL kept its data in the clean folder, and was stopped again.
    assert "DATABASE_URL" not in done.stderr
    assert "embedded PostgreSQL" in done.stderr or "PostgreSQL binaries" in done.stderr
    assert (tmp_path / ".testgenie-data").is_dir()
    assert "stopped." in done.stderr
    leftovers = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False).stdout
    assert str(tmp_path) not in leftovers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_make_run_on_a_busy_port_names_it_and_the_way_out_at_once(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [
                "make",
                "-s",
                "-C",
                str(REPO_ROOT),
                "run",
                f"PORT={port}",
                f"RUN_ARGS=--data-dir {tmp_path / 'data'}",
            ],
            env={k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TESTGENIE_"))},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode != 0
    assert f"error: port {port} on 127.0.0.1 is already in use" in done.stderr, done.stderr
    assert f"make run PORT={port + 1}" in done.stderr
    assert "PostgreSQL" not in done.stderr  # refused before anything slow started
    assert "Traceback" not in done.stderr
