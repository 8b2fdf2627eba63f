"""The queued and synchronous paths, and cancel, over real HTTP against `testgenie serve`."""

from __future__ import annotations

import os
import stat
import uuid
from typing import Any

import pytest
from testgenie_local.polling import wait_for

from tests.support.stack import RunningStack, run_cli

pytestmark = pytest.mark.e2e

QUICK = ["structure", "standards", "docs", "unit"]


def test_health_and_phase_catalog(stack: RunningStack) -> None:
    assert stack.get("/health")["status"] == "healthy"
    names = [item["name"] for item in stack.get("/phases")["items"]]
    assert names[:2] == ["structure", "standards"]
    missing = stack.call("GET", "/no-such-route")
    assert (missing.status, missing.json()) == (404, {"message": "Not Found"})


def test_queued_path_from_http_to_sqs_to_history(stack: RunningStack) -> None:
    request = stack.queue(scenarioName="hello-python", preset="quick")
    assert request["status"] == "queued"
    seen_progress: list[dict[str, Any]] = []

    def finished() -> dict[str, Any] | None:
        current = stack.get(f"/suite-requests/{request['id']}")
        if current.get("progress"):
            seen_progress.append(current["progress"])
        return current if current["status"] in {"completed", "failed", "cancelled"} else None

    final = wait_for(finished, 120, "the queued request to finish")
    assert final["status"] == "completed", final
    assert final["attempts"] == 1
    assert final["trigger"] == "api"
    progress = final["progress"]
    assert (progress["totalPhases"], progress["completedPhases"]) == (4, 4)
    assert [p["name"] for p in progress["phases"]] == QUICK
    assert all({"name", "status", "durationMs"} <= set(p) for p in progress["phases"])

    result = stack.get(f"/executions/{final['executionId']}")
    assert result["success"] is True
    assert result["outcome"] == "passed"
    assert result["suiteRequestId"] == request["id"]
    assert [p["name"] for p in result["phases"]] == QUICK
    assert result["phaseSummary"]["passed"] == 4

    page = stack.get("/executions?scenario=hello-python&limit=50")
    assert result["executionId"] in [item["executionId"] for item in page["items"]]
    latest = stack.get("/executions/latest?scenario=hello-python")
    assert latest["executionId"] == result["executionId"]
    log = stack.call("GET", f"/executions/{result['executionId']}/phases/unit/log")
    assert log.status == 200
    assert log.headers["content-type"].startswith("text/plain")
    assert log.body


def test_idempotency_key_queues_once(stack: RunningStack) -> None:
    key = f"e2e-{uuid.uuid4()}"
    first = stack.call(
        "POST",
        "/suite-requests",
        {"scenarioName": "e2e-pass", "phases": ["structure"]},
        {"Idempotency-Key": key},
    )
    again = stack.call(
        "POST",
        "/suite-requests",
        {"scenarioName": "e2e-pass", "phases": ["structure"]},
        {"Idempotency-Key": key},
    )
    assert first.status == 201
    assert again.status in {200, 201}
    assert again.json()["id"] == first.json()["id"]
    stack.wait_status(first.json()["id"], {"completed"})


def test_synchronous_path(stack: RunningStack) -> None:
    passed = stack.call("POST", "/executions", {"scenarioName": "e2e-pass", "phases": ["structure", "lint"]})
    assert passed.status == 200
    assert passed.json()["success"] is True
    failed = stack.call("POST", "/executions", {"scenarioName": "e2e-fail", "phases": ["structure", "lint"]})
    assert failed.status == 200  # a failed suite is still a 200 (seed)
    body = failed.json()
    assert body["success"] is False
    assert body["outcome"] == "failed"
    assert [p["status"] for p in body["phases"]] == ["passed", "failed"]
    # Both are in the history, newest first.
    items = stack.get("/executions?limit=50")["items"]
    ids = [item["executionId"] for item in items]
    assert ids.index(body["executionId"]) < ids.index(passed.json()["executionId"])


def test_synchronous_validation_errors_are_400_with_the_field(stack: RunningStack) -> None:
    unknown_phase = stack.call("POST", "/executions", {"scenarioName": "e2e-pass", "phases": ["nope"]})
    assert unknown_phase.status == 400
    assert "nope" in unknown_phase.json()["error"]
    missing = stack.call("POST", "/executions", {})
    assert missing.status == 400
    assert "scenarioName" in missing.json()["error"]
    bad_id = stack.call("GET", "/executions/not-a-uuid")
    assert bad_id.status == 400


def test_cancel_a_running_and_a_queued_request(stack: RunningStack) -> None:
    # The stack has one poller thread: while `slow` runs, `waiting` stays queued behind it.
    slow = stack.queue(scenarioName="e2e-slow", phases=["structure", "lint", "standards"])
    running = stack.wait_status(slow["id"], {"running", *{"completed", "failed", "cancelled"}})
    assert running["status"] == "running", running
    waiting = stack.queue(scenarioName="e2e-pass", phases=["structure", "lint"])

    cancel_queued = stack.call("POST", f"/suite-requests/{waiting['id']}/cancel")
    assert cancel_queued.status == 200, cancel_queued.body
    assert cancel_queued.json()["status"] == "cancelled"

    cancel_running = stack.call("POST", f"/suite-requests/{slow['id']}/cancel")
    assert cancel_running.status == 200, cancel_running.body
    assert cancel_running.json()["status"] in {"running", "cancelled"}

    # The worker stops after its current phase: the request ends cancelled, `standards` never ran.
    final = stack.wait_status(slow["id"], {"completed", "failed", "cancelled"})
    assert final["status"] == "cancelled", final
    if final.get("executionId"):
        result = stack.get(f"/executions/{final['executionId']}")
        assert result["outcome"] == "cancelled"
        assert result["success"] is False  # what ran passed, but not all it planned ran
        shown = run_cli("--api-url", stack.url, "show", final["executionId"])
        assert shown.stdout.startswith("CANCELLED  e2e-slow"), shown.stdout
        assert "standards" not in [p["name"] for p in result["phases"] if p["status"] != "skipped"]

    # The queued one's message is still delivered later: it is acknowledged, and stays cancelled.
    marker = stack.queue(scenarioName="e2e-pass", phases=["structure"])
    stack.wait_status(marker["id"], {"completed"})
    assert stack.get(f"/suite-requests/{waiting['id']}")["status"] == "cancelled"
    # Cancelling a terminal request is a conflict.
    again = stack.call("POST", f"/suite-requests/{waiting['id']}/cancel")
    assert again.status == 409


def test_the_data_dir_and_its_logs_are_the_stacks_alone(stack: RunningStack) -> None:
    """After PostgreSQL started (the embedded one opens every folder above its own o+rx)."""
    passed = stack.call("POST", "/executions", {"scenarioName": "e2e-pass", "phases": ["structure", "lint"]})
    assert passed.status == 200
    execution_id = passed.json()["executionId"]
    embedded_as_other_user = stack.info.get("database") == "embedded" and os.geteuid() == 0
    assert stat.S_IMODE(stack.data_dir.stat().st_mode) == (0o711 if embedded_as_other_user else 0o700)
    assert stat.S_IMODE((stack.data_dir / "stack.json").stat().st_mode) == 0o600
    log = stack.data_dir / "artifacts" / "executions" / execution_id / "lint.log"
    assert log.is_file()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
