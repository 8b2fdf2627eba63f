"""A typo in a request body is a 400 naming the field, over real HTTP: nothing is queued or run.
And the CLI, given every option it has, sends nothing the server refuses."""

from __future__ import annotations

from tests.support.stack import RunningStack, run_cli


def _counts(stack: RunningStack, scenario: str) -> tuple[int, int]:
    requests = stack.get(f"/suite-requests?scenario={scenario}&limit=50")["count"]
    executions = stack.get(f"/executions?scenario={scenario}&limit=50")["count"]
    return int(requests), int(executions)


def test_the_three_requests_of_a_new_user_are_refused_naming_the_field(stack: RunningStack) -> None:
    before = _counts(stack, "e2e-pass")
    refused = [
        ("/suite-requests", {"scenarioName": "e2e-pass", "phasess": ["structure"]}),
        ("/executions", {"scenarioName": "e2e-pass", "phases": ["structure"], "failfast": True}),
        ("/executions", {"scenarioName": "e2e-pass", "phases": ["unit"], "shard": 8}),
    ]
    answers = [stack.call("POST", path, body) for path, body in refused]

    assert [(a.status, a.json()) for a in answers] == [
        (400, {"error": "unknown field 'phasess' (did you mean 'phases'?)"}),
        (400, {"error": "unknown field 'failfast' (did you mean 'failFast'?)"}),
        (400, {"error": "unknown field 'shard' (did you mean 'shards'?)"}),
    ]
    assert _counts(stack, "e2e-pass") == before

    # Spelt as documented, the same requests are taken.
    queued = stack.call("POST", "/suite-requests", {"scenarioName": "e2e-pass", "phases": ["structure"]})
    assert (queued.status, queued.json()["phases"]) == (201, ["structure"])
    ran = stack.call(
        "POST", "/executions", {"scenarioName": "e2e-pass", "phases": ["structure"], "failFast": True}
    )
    assert (ran.status, [p["name"] for p in ran.json()["phases"]]) == (200, ["structure"])


def test_the_cli_sends_only_fields_the_server_takes(stack: RunningStack) -> None:
    plan = ["e2e-fail", "--preset", "quick", "--phases", "structure,lint", "--skip", "docs", "--fail-fast"]
    queued = run_cli("--api-url", stack.url, "--json", "execute", *plan)
    assert queued.returncode == 0, queued.stderr
    ran = run_cli("--api-url", stack.url, "--json", "run", *plan)
    assert ran.returncode == 1, ran.stderr  # the suite failed (lint); a refused body would be 2
    assert "unknown field" not in ran.stderr

    failed = stack.call(
        "POST", "/executions", {"scenarioName": "e2e-fail", "phases": ["structure", "lint"]}
    ).json()
    rerun = run_cli("--api-url", stack.url, "rerun", failed["executionId"], "--failed-only")
    assert rerun.returncode == 0, rerun.stderr
