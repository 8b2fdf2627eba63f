"""GET /executions/{id}/compare: what changed between two runs, from their stored phases."""

from __future__ import annotations

from typing import Any


def _tests(phases: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {
        (phase["name"], test["name"]): test.get("signature", "")
        for phase in phases
        for test in phase.get("failingTests") or []
    }


def compare_executions(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """after/before: rows with id, source_digest and phases (the stored JSON list)."""
    old = {phase["name"]: phase for phase in before["phases"] or []}
    new = {phase["name"]: phase for phase in after["phases"] or []}
    names = [*new, *(name for name in old if name not in new)]
    phases = []
    for name in names:
        was, now = old.get(name), new.get(name)
        ms_before = was.get("durationMs") if was else None
        ms_after = now.get("durationMs") if now else None
        status_before = was["status"] if was else None
        status_after = now["status"] if now else None
        phases.append(
            {
                "name": name,
                "before": status_before,
                "after": status_after,
                "changed": status_before != status_after,
                "durationMsBefore": ms_before,
                "durationMsAfter": ms_after,
                "durationMsDelta": ms_after - ms_before
                if ms_after is not None and ms_before is not None
                else None,
            }
        )
    failing_before, failing_after = _tests(before["phases"] or []), _tests(after["phases"] or [])
    return {
        "executionId": str(after["id"]),
        "baseExecutionId": str(before["id"]),
        "sourceDigestChanged": after["source_digest"] != before["source_digest"],
        "phases": phases,
        "newlyFailingTests": [
            {"phase": phase, "name": name, "signature": signature}
            for (phase, name), signature in failing_after.items()
            if (phase, name) not in failing_before
        ],
        "newlyFixedTests": [
            {"phase": phase, "name": name}
            for (phase, name) in failing_before
            if (phase, name) not in failing_after
            # Fixed means it ran and did not fail: the phase ran again and is no longer failing it.
            and new.get(phase, {}).get("status") in {"passed", "failed"}
        ],
    }
