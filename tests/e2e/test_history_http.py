"""History for people over real HTTP against `testgenie serve`: filters, scenarios, stats, compare,
rerun (through the queue, linked to the original) and pins."""

from __future__ import annotations

import json

from tests.support.stack import RunningStack, run_cli


def test_compare_rerun_and_pin_over_http(stack: RunningStack) -> None:
    passed = stack.call("POST", "/executions", {"scenarioName": "e2e-fail", "phases": ["structure"]}).json()
    failed = stack.call("POST", "/executions", {"scenarioName": "e2e-fail", "phases": ["structure", "lint"]})
    assert failed.status == 200
    failed_run = failed.json()
    assert failed_run["sourceDigest"].startswith("sha256:")

    diff = stack.get(f"/executions/{failed_run['executionId']}/compare?with=previous")
    assert diff["baseExecutionId"] == passed["executionId"]
    assert diff["sourceDigestChanged"] is False  # same files
    lint = next(p for p in diff["phases"] if p["name"] == "lint")
    assert (lint["before"], lint["after"], lint["changed"]) == (None, "failed", True)

    rerun = stack.call("POST", f"/executions/{failed_run['executionId']}/rerun", {"failedOnly": True})
    assert rerun.status == 201, rerun.body
    request = rerun.json()
    assert (request["trigger"], request["rerunOf"], request["phases"]) == (
        "rerun",
        failed_run["executionId"],
        ["lint"],
    )
    final = stack.wait_status(request["id"], {"completed", "failed"})
    assert final["status"] == "failed"
    again = stack.get(f"/executions/{final['executionId']}")
    assert [p["name"] for p in again["phases"]] == ["lint"]
    reruns = stack.get("/executions?scenario=e2e-fail&trigger=rerun")
    assert [item["executionId"] for item in reruns["items"]] == [final["executionId"]]

    red = stack.get("/executions?scenario=e2e-fail&phase=lint&phaseStatus=failed&includeTotal=true")
    assert red["total"] == 2
    health = {item["scenarioName"]: item for item in stack.get("/scenarios")["items"]}
    assert health["e2e-fail"]["lastExecution"]["executionId"] == final["executionId"]
    stats = stack.get("/scenarios/e2e-fail/stats?window=10")
    assert {p["name"] for p in stats["phases"]} >= {"structure", "lint"}

    pin = stack.call("POST", f"/executions/{passed['executionId']}/pin")
    assert (pin.status, pin.json()) == (200, {"executionId": passed["executionId"], "pinned": True})
    unpin = stack.call("DELETE", f"/executions/{passed['executionId']}/pin")
    assert unpin.json()["pinned"] is False
    missing = stack.call("POST", "/executions/00000000-0000-4000-8000-000000000000/rerun")
    assert missing.status == 404
    bad = stack.call("POST", f"/executions/{passed['executionId']}/rerun", {"failedOnly": True})
    assert (bad.status, "no failed phases" in bad.json()["error"]) == (400, True)


def test_cli_history_filters_scenarios_stats_compare_and_rerun(stack: RunningStack) -> None:
    for phases in (["structure"], ["structure", "lint"], ["structure", "lint"]):
        assert stack.call("POST", "/executions", {"scenarioName": "e2e-fail", "phases": phases}).status == 200
    cli = ("--api-url", stack.url)

    failed = run_cli(*cli, "--json", "history", "--scenario", "e2e-fail", "--outcome", "failed", "--all")
    assert failed.returncode == 0, failed.stderr
    page = json.loads(failed.stdout)
    assert page["count"] >= 2
    assert {item["outcome"] for item in page["items"]} == {"failed"}
    table = run_cli(*cli, "history", "--phase", "lint", "--phase-status", "failed", "--limit", "3")
    assert table.returncode == 0, table.stderr
    assert "e2e-fail" in table.stdout

    scenarios = run_cli(*cli, "scenarios")
    assert scenarios.returncode == 0
    assert "e2e-fail" in scenarios.stdout
    stats = run_cli(*cli, "stats", "e2e-fail", "--window", "10")
    assert stats.returncode == 0, stats.stderr
    assert "lint" in stats.stdout
    newest = page["items"][0]["executionId"]
    compare = run_cli(*cli, "compare", newest)
    assert compare.returncode == 0, compare.stderr
    assert "lint" in compare.stdout

    rerun = run_cli(*cli, "rerun", newest, "--failed-only", "--wait")
    assert rerun.returncode == 1, rerun.stderr  # the rerun of a failing lint fails again
    assert "lint" in rerun.stdout
    bad = run_cli(*cli, "stats", "e2e-fail", "--window", "0")
    assert bad.returncode == 2
    assert "window" in bad.stderr
