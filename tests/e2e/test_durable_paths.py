"""Durable executions on the local stack, over real HTTP against `testgenie serve`: a run longer than
the coordinator function's own Timeout, a cancel during a long phase, and a stack killed mid-run.

Each scenario's commands carry a marker of their own, so the test can find (and, after a kill, clean up)
exactly the processes its runs started, and no other process of the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from testgenie_local.polling import wait_for

from tests.support.drills import make_scenario
from tests.support.stack import RunningStack, run_cli, start_stack

pytestmark = pytest.mark.e2e


def _sleeper(seconds: int, marker: str) -> list[str]:
    return ["python", "-c", f"import time; time.sleep({seconds}); print('done {marker}')"]


def _marked(marker: str) -> list[int]:
    """The live processes whose command line carries `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _kill_marked(marker: str) -> None:
    for pid in _marked(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _execution_count(database_url: str, request_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM suite_executions WHERE suite_request_id = %s", (request_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _in_phase(stack: RunningStack, request_id: str, phase: str, marker: str) -> None:
    """Until `phase` runs and its command (found by `marker`) is alive."""

    def running() -> bool:
        request = stack.get(f"/suite-requests/{request_id}")
        assert request["status"] in {"queued", "running"}, request
        return (request.get("progress") or {}).get("currentPhase") == phase and bool(_marked(marker))

    wait_for(running, 120, f"phase {phase} to run")


@pytest.mark.slow
@pytest.mark.timeout(290)
def test_an_execution_outlives_the_coordinators_own_timeout(
    tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    marker = f"long-{uuid.uuid4().hex[:8]}"
    phases = {
        name: {"timeout": "60s", "commands": [_sleeper(40, marker)]} for name in ("lint", "standards", "docs")
    }
    make_scenario(tmp_path / "scenarios", "three-long-phases", phases)
    database_url = fresh_database()
    stack = start_stack(
        tmp_path / "stack", tmp_path / "scenarios", database_url, TESTGENIE_COORDINATOR_TIMEOUT_SECONDS="60"
    )
    try:
        request = stack.queue(scenarioName="three-long-phases", phases=["lint", "standards", "docs"])
        final = stack.wait_status(request["id"], {"completed", "failed", "cancelled"}, timeout=240)
        assert final["status"] == "completed", (final, stack.tail())
        result = stack.get(f"/executions/{final['executionId']}")
        assert result["outcome"] == "passed"
        assert [p["name"] for p in result["phases"]] == ["lint", "standards", "docs"]
        # Longer than the coordinator may run in one invocation (60 s here), recorded once.
        took = _at(result["completedAt"]) - _at(result["startedAt"])
        assert took > timedelta(seconds=60), took
        assert _execution_count(database_url, request["id"]) == 1
    finally:
        _kill_marked(marker)
        assert stack.stop() == 0, stack.tail()


@pytest.mark.timeout(290)
def test_cancel_during_a_long_phase_stops_it_at_once(
    tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    marker = f"cancel-{uuid.uuid4().hex[:8]}"
    make_scenario(
        tmp_path / "scenarios",
        "one-long-phase",
        {
            "structure": {"requiredPaths": ["README.md"]},
            "lint": {"timeout": "120s", "commands": [_sleeper(60, marker)]},
            "standards": {"timeout": "30s", "commands": [["python", "-c", "print('never')"]]},
        },
    )
    database_url = fresh_database()
    stack = start_stack(tmp_path / "stack", tmp_path / "scenarios", database_url)
    try:
        request = stack.queue(scenarioName="one-long-phase", phases=["structure", "lint", "standards"])
        _in_phase(stack, request["id"], "lint", marker)
        asked = datetime.now(UTC)
        answer = stack.call("POST", f"/suite-requests/{request['id']}/cancel")
        assert answer.status == 200, answer.body
        cancelled = answer.json()
        assert cancelled["status"] == "cancelled", cancelled
        assert "stopped" in cancelled["reason"], cancelled
        # The runner's processes of the abandoned phase are gone (waited for, bounded).
        wait_for(lambda: not _marked(marker), 30, "the abandoned phase's processes to end")

        result = stack.get(f"/executions/{cancelled['executionId']}")
        assert result["outcome"] == "cancelled"
        assert [p["name"] for p in result["phases"]] == ["structure"]  # what finished before the cancel
        assert any("stopped" in w for w in result["warnings"])
        # Recorded before the 60 s phase could have ended: it was stopped, not waited for.
        ended = _at(result["completedAt"])
        assert ended - _at(result["startedAt"]) < timedelta(seconds=60), result
        print(f"cancel recorded {(ended - asked).total_seconds():.2f}s after it was asked")
        shown = run_cli("--api-url", stack.url, "show", request["id"])
        assert "cancelled" in shown.stdout, shown.stdout
        assert _execution_count(database_url, request["id"]) == 1
    finally:
        _kill_marked(marker)
        assert stack.stop() == 0, stack.tail()


@pytest.mark.timeout(290)
def test_a_stack_killed_mid_run_fails_the_run_interrupted_on_restart(
    tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    marker = f"killed-{uuid.uuid4().hex[:8]}"
    make_scenario(
        tmp_path / "scenarios",
        "killed-mid-run",
        {
            "structure": {"requiredPaths": ["README.md"]},
            "lint": {"timeout": "120s", "commands": [_sleeper(60, marker)]},
        },
    )
    database_url = fresh_database()
    data = tmp_path / "data"
    first = start_stack(tmp_path / "first", tmp_path / "scenarios", database_url, data_dir=data)
    try:
        request = first.queue(scenarioName="killed-mid-run", phases=["structure", "lint"])
        _in_phase(first, request["id"], "lint", marker)
    finally:
        first.process.kill()  # SIGKILL: no clean-up of any kind
        first.process.wait(timeout=30)
        _kill_marked(marker)

    second = start_stack(tmp_path / "second", tmp_path / "scenarios", database_url, data_dir=data)
    try:
        ready = datetime.now(UTC)
        final = second.get(f"/suite-requests/{request['id']}")
        # Failed while the restarted stack started, before it took any request (so within 30 s of it).
        assert final["status"] == "failed", final
        assert final["reason"].startswith("interrupted"), final
        assert _at(final["updatedAt"]) <= ready
        result = second.get(f"/executions/{final['executionId']}")
        assert [p["name"] for p in result["phases"]] == ["structure"]
        assert _execution_count(database_url, request["id"]) == 1
    finally:
        assert second.stop() == 0, second.tail()
