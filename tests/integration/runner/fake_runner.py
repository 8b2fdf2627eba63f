"""A stand-in RunnerFunction for the invoke tests: the scenario name says how it misbehaves.

Only the standard library: it runs in the runner venv from a staged copy, like the real handler.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def _answer(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "protocol": 1,
        "executionId": event["executionId"],
        "phase": event["phase"],
        "result": {"name": event["phase"], "status": "passed", "durationMs": 5},
        "logStored": True,
        "bundleSha256": event["bundle"]["sha256"],
    }
    answer.update(changes)
    return answer


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    mode = event["scenarioName"]
    if mode == "raise":
        raise RuntimeError("the runner fell over")
    if mode == "exit":
        os._exit(3)
    if mode == "hang":
        time.sleep(600)
    if mode == "junk":
        return {"status": "fine, thanks"}
    if mode == "other-phase":
        return _answer(event, phase="lint", result={"name": "lint", "status": "passed"})
    if mode == "other-bundle":
        return _answer(event, bundleSha256="0" * 64)
    if mode == "no-digest":
        return _answer(event, bundleSha256=None)
    if mode.startswith("pid"):
        return _answer(event, warnings=[str(os.getpid())])
    if mode == "whoami":
        seen = {
            "uid": os.getuid(),
            "env": sorted(os.environ),
            "remaining": context.get_remaining_time_in_millis(),
        }
        return _answer(event, warnings=[json.dumps(seen)])
    return _answer(event)
