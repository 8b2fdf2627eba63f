"""The coordinator's paths when the runner lets it down, over real HTTP against `testgenie serve`.

A scenario can reach its own runner process (same user): killing it is a runner crash, stopping it
a hung runner. Either way the execution is recorded (errored / timeout), the request ends failed, the
phases that ran before are kept, and nothing after the broken phase runs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from testgenie_local.polling import wait_for

from tests.support.stack import TERMINAL, RunningStack, start_stack

pytestmark = pytest.mark.e2e

RUNNER_TIMEOUT = 5  # the runner's Timeout in this stack (TESTGENIE_RUNNER_TIMEOUT_SECONDS)
SCENARIOS: dict[str, dict[str, Any]] = {
    # The phase's command kills the runner process that runs it.
    "runner-crash": {"lint": {"commands": ["kill -9 $PPID"]}},
    # The phase's command stops the runner process: it never answers, and Lambda's Timeout ends it.
    "runner-hang": {"lint": {"timeout": "60s", "commands": ["kill -STOP $PPID; sleep 60"]}},
}


@pytest.fixture(scope="module")
def broken_stack(
    tmp_path_factory: pytest.TempPathFactory, fresh_database: Callable[[], str]
) -> Iterator[RunningStack]:
    root = tmp_path_factory.mktemp("runner-paths")
    scenarios = root / "scenarios"
    for name, phases in SCENARIOS.items():
        folder = scenarios / name
        (folder / ".testgenie").mkdir(parents=True)
        (folder / "README.md").write_text(f"# {name}\n")
        testing = {
            "phases": {
                "structure": {"requiredPaths": ["README.md"]},
                **phases,
                "standards": {"commands": ["true"]},
            }
        }
        (folder / ".testgenie" / "testing.json").write_text(json.dumps(testing))
    stack = start_stack(
        root / "work", scenarios, fresh_database(), TESTGENIE_RUNNER_TIMEOUT_SECONDS=str(RUNNER_TIMEOUT)
    )
    yield stack
    assert stack.stop() == 0, stack.tail()
    shutil.rmtree(scenarios, ignore_errors=True)


def _run(stack: RunningStack, scenario: str) -> tuple[dict[str, Any], dict[str, Any]]:
    request = stack.queue(scenarioName=scenario, phases=["structure", "lint", "standards"])
    final = stack.wait_status(request["id"], TERMINAL)
    assert final["executionId"], final
    return final, stack.get(f"/executions/{final['executionId']}")


def test_a_runner_crash_ends_the_execution_errored(broken_stack: RunningStack) -> None:
    final, execution = _run(broken_stack, "runner-crash")
    assert final["status"] == "failed"
    assert execution["outcome"] == "errored"
    assert execution["success"] is False
    structure, lint = execution["phases"]  # standards never ran
    assert (structure["name"], structure["status"]) == ("structure", "passed")
    assert (lint["name"], lint["status"], lint["classification"]) == ("lint", "failed", "system")
    assert "the runner crashed (Runtime.ExitError): Runtime exited with error: signal 9" in lint["error"]
    assert any("the runner crashed" in warning for warning in execution["warnings"])
    assert (
        broken_stack.call("GET", f"/executions/{execution['executionId']}/phases/structure/log").status == 200
    )


def test_a_hung_runner_ends_the_execution_timeout_and_progress_shows_meanwhile(
    broken_stack: RunningStack,
) -> None:
    request = broken_stack.queue(scenarioName="runner-hang", phases=["structure", "lint", "standards"])

    def lint_running() -> dict[str, Any] | None:
        progress = broken_stack.get(f"/suite-requests/{request['id']}").get("progress") or {}
        return progress if progress.get("currentPhase") == "lint" else None

    # While the runner hangs in lint, the coordinator's progress after structure is visible.
    during = wait_for(lint_running, 60, "progress to show lint running")
    assert (during["completedPhases"], during["totalPhases"]) == (1, 3)
    assert during["phases"][0]["name"] == "structure"
    final = broken_stack.wait_status(request["id"], TERMINAL)
    execution = broken_stack.get(f"/executions/{final['executionId']}")
    assert final["status"] == "failed"
    assert execution["outcome"] == "timeout"
    structure, lint = execution["phases"]
    assert structure["status"] == "passed"
    assert (lint["status"], lint["classification"]) == ("failed", "timeout")
    assert f"the runner timed out: Task timed out after {RUNNER_TIMEOUT}.00 seconds" in lint["error"]
    assert [p["name"] for p in final["progress"]["phases"]] == ["structure", "lint"]
