"""A stack restart in the middle of a run, and the CLI's exit codes, against `testgenie serve`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.support.stack import RunningStack, run_cli, start_stack

pytestmark = pytest.mark.e2e


def test_restart_mid_run_fails_the_run_interrupted_exactly_once(
    tmp_path: Path, e2e_scenarios: Path, fresh_database: Callable[[], str]
) -> None:
    database_url = fresh_database()
    settings = {"LEASE_SECONDS": "5", "TESTGENIE_SCHEDULE_SECONDS": "reap=1"}
    first = start_stack(tmp_path / "first", e2e_scenarios, database_url, own_group=True, env=settings)
    try:
        request = first.queue(scenarioName="e2e-slow", phases=["structure", "lint", "standards"])
        running = first.wait_status(request["id"], {"running", "completed", "failed", "cancelled"})
        assert running["status"] == "running", running
    finally:
        assert first.interrupt() == 0, first.tail()
    # Ctrl-C mid-run is a clean stop: a few lines, no traceback, nothing logged as an error.
    output = first.log.read_text(errors="replace")
    assert "Traceback" not in output, output[-3000:]
    assert '"level":"ERROR"' not in output, output[-3000:]
    after = output.split("stopping the local stack…", 1)[1].strip().splitlines()
    assert after == ["stopped."], after
    # The stack died with the run in flight: the request is still `running` under attempt 1's lease.
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT status, attempts FROM suite_requests WHERE id = %s", (request["id"],)
        ).fetchone()
    assert row == ("running", 1)

    # The second stack has a data dir of its own, so it knows nothing of the first's durable
    # execution: the request's lease runs out and the reaper fails it ("interrupted"), never
    # re-queues it (its execution name is taken). test_durable_paths.py restarts on the same data dir.
    second = start_stack(tmp_path / "second", e2e_scenarios, database_url, env=settings)
    try:
        final = second.wait_status(request["id"], {"completed", "failed", "cancelled"}, timeout=120)
        assert final["status"] == "failed", final
        assert final["reason"].startswith("interrupted"), final
        assert final["attempts"] == 1  # never run again
        executions = [
            item
            for item in second.get("/executions?scenario=e2e-slow&limit=50")["items"]
            if item["suiteRequestId"] == request["id"]
        ]
        assert len(executions) == 1
        assert executions[0]["executionId"] == final["executionId"]
        assert executions[0]["outcome"] == "errored"
    finally:
        assert second.stop() == 0, second.tail()
    with psycopg.connect(database_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM suite_executions WHERE suite_request_id = %s", (request["id"],)
        ).fetchone()
    assert count == (1,)


def test_cli_exit_codes_for_passing_and_failing_suites(stack: RunningStack) -> None:
    passing = run_cli("--api-url", stack.url, "execute", "e2e-pass", "--phases", "structure,lint", "--wait")
    assert passing.returncode == 0, passing.stderr
    assert "PASSED" in passing.stdout

    failing = run_cli("--api-url", stack.url, "execute", "e2e-fail", "--phases", "structure,lint", "--wait")
    assert failing.returncode == 1, failing.stderr
    assert "FAILED" in failing.stdout
    assert "lint" in failing.stdout

    sync_failing = run_cli(
        "--api-url", stack.url, "run", "e2e-fail", "--phases", "structure,lint", "--fail-fast"
    )
    assert sync_failing.returncode == 1, sync_failing.stderr

    history = run_cli("--api-url", stack.url, "history", "--scenario", "e2e-fail", "--limit", "5")
    assert history.returncode == 0
    assert "e2e-fail" in history.stdout
    assert "failed" in history.stdout

    requests = run_cli("--api-url", stack.url, "requests", "--limit", "5")
    assert requests.returncode == 0
    assert "e2e-fail" in requests.stdout


def test_cli_show_prints_failures_and_the_log_tail(stack: RunningStack) -> None:
    failed = stack.call(
        "POST", "/executions", {"scenarioName": "e2e-fail", "phases": ["structure", "lint"]}
    ).json()
    shown = run_cli("--api-url", stack.url, "show", failed["executionId"])
    assert shown.returncode == 0, shown.stderr
    assert "lint failed" in shown.stdout
    assert "lint found 3 problems" in shown.stdout  # from the phase log


def test_cli_log_prints_a_whole_phase_log_and_json_goes_before_or_after(stack: RunningStack) -> None:
    failed = stack.call(
        "POST", "/executions", {"scenarioName": "e2e-fail", "phases": ["structure", "lint"]}
    ).json()
    execution_id = failed["executionId"]
    stored = stack.call("GET", f"/executions/{execution_id}/phases/lint/log").body.decode()
    printed = run_cli("--api-url", stack.url, "log", execution_id, "lint")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.rstrip("\n") == stored.rstrip("\n")
    assert "lint found 3 problems" in printed.stdout

    after = run_cli("--api-url", stack.url, "show", execution_id, "--json")
    before = run_cli("--api-url", stack.url, "--json", "show", execution_id)
    assert after.returncode == before.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)["executionId"] == execution_id

    nobody = str(uuid.uuid4())
    missing = run_cli("--api-url", stack.url, "show", nobody)
    assert missing.returncode == 2
    assert (
        missing.stderr.strip() == f"error: 404: neither a suite request nor an execution has the id {nobody}"
    )
    no_log = run_cli("--api-url", stack.url, "log", execution_id, "nope")
    assert no_log.returncode == 2
    assert no_log.stderr.startswith("error: 404"), no_log.stderr


def test_cli_errors_are_one_clear_line_with_exit_code_2(stack: RunningStack) -> None:
    bad_request = run_cli("--api-url", stack.url, "show", "not-a-uuid")
    assert bad_request.returncode == 2
    assert bad_request.stderr.startswith("error: 400")
    assert "Traceback" not in bad_request.stderr

    unknown = run_cli("--api-url", stack.url, "execute", "e2e-pass", "--phases", "nope", "--wait")
    assert unknown.returncode in {1, 2}  # queued then failed by the planner, or refused up front
    assert "Traceback" not in unknown.stderr

    # Nothing listens on the port of a stopped server.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = run_cli("--api-url", f"http://127.0.0.1:{port}", "history", timeout=60)
    assert unreachable.returncode == 2
    assert "cannot reach the Test Genie API" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr

    usage = run_cli("execute")
    assert usage.returncode == 2
