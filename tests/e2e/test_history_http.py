"""History for people over real HTTP against `testgenie serve`: filters, scenarios, stats, compare,
rerun (through the queue, linked to the original) and pins."""

from __future__ import annotations

from tests.e2e.conftest import RunningStack


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
