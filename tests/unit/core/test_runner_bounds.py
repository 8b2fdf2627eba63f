"""What a durable execution checkpoints stays under the service's limits (runner/bounds.py)."""

from __future__ import annotations

from uuid import uuid4

from testgenie.orchestrator.models import PhasePlan
from testgenie.runner.bounds import (
    ANSWER_BUDGET_BYTES,
    INVOCATION_BUDGET_BYTES,
    bound_answer,
    bound_invocation,
)
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation


def _size(model: PhaseAnswer | PhaseInvocation) -> int:
    return len(model.model_dump_json(by_alias=True).encode())


def _answer(observations: int, tests: int) -> PhaseAnswer:
    execution = uuid4()
    return PhaseAnswer.model_validate(
        {
            "executionId": str(execution),
            "phase": "unit",
            "result": {
                "name": "unit",
                "status": "failed",
                "observations": [{"text": f"observation {i} " + "x" * 120} for i in range(observations)],
            },
            "tests": [
                {
                    "name": f"test_{i}",
                    "classname": "tests.test_big",
                    "status": "failed" if i % 7 else "passed",
                    "message": "m" * 80,
                }
                for i in range(tests)
            ],
        }
    )


def test_a_small_answer_is_left_as_it_is() -> None:
    answer = _answer(3, 3)
    assert bound_answer(answer) == answer


def test_a_large_answer_is_cut_under_the_budget_with_a_note() -> None:
    answer = _answer(5000, 5000)
    assert _size(answer) > ANSWER_BUDGET_BYTES

    bounded = bound_answer(answer)

    assert _size(bounded) <= ANSWER_BUDGET_BYTES
    kept = len(bounded.result.observations or [])
    assert 0 < kept < 5000
    assert 0 < len(bounded.tests) < 5000
    assert bounded.warnings[-1].startswith("phase 'unit' answer truncated to fit a checkpoint")
    assert f"observations: kept {kept} of 5000" in bounded.warnings[-1]


def test_an_invocation_keeps_failed_tests_first_when_it_must_cut() -> None:
    execution = uuid4()
    prior = [
        {"name": f"t{i}", "status": "passed" if i % 2 else "failed", "message": "y" * 200, "phase": "unit"}
        for i in range(8000)
    ]
    invocation = PhaseInvocation.model_validate(
        {
            "executionId": str(execution),
            "scenarioName": "web",
            "bundle": {"url": "https://b.example/x.tar.gz", "sha256": "a" * 64, "sizeBytes": 1},
            "plan": PhasePlan(scenario_name="web", phases=["business"]).model_dump(by_alias=True),
            "phase": "business",
            "timeoutSeconds": 60,
            "logUpload": {"url": "https://b.example/put", "key": f"executions/{execution}/business.log"},
            "priorTests": prior,
        }
    )
    assert _size(invocation) > INVOCATION_BUDGET_BYTES

    bounded, note = bound_invocation(invocation)

    assert _size(bounded) <= INVOCATION_BUDGET_BYTES
    assert note is not None
    assert "of the 8000 tests" in note
    assert {t.status for t in bounded.prior_tests} == {"failed"}  # the failures were kept, passes cut
    assert bound_invocation(bounded) == (bounded, None)
