"""`success` means every planned phase ran and none failed; the outcome says why not."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from testgenie.orchestrator.models import (
    Outcome,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionResult,
    run_outcome,
)


def _ran(*statuses: tuple[str, PhaseStatus]) -> list[PhaseResult]:
    return [PhaseResult(name=name, status=status) for name, status in statuses]


def test_the_outcome_of_a_run() -> None:
    passed, failed = PhaseStatus.PASSED, PhaseStatus.FAILED
    both = _ran(("unit", passed), ("lint", passed))
    assert run_outcome(["unit", "lint"], both, None) == Outcome.PASSED
    assert run_outcome(["unit", "lint"], _ran(("unit", passed), ("lint", failed)), None) == Outcome.FAILED
    # Stopped early: the reason wins, even when everything that ran passed.
    assert run_outcome(["unit", "lint"], _ran(("unit", passed)), Outcome.CANCELLED) == Outcome.CANCELLED
    assert run_outcome(["unit", "lint"], _ran(("unit", passed)), Outcome.TIMEOUT) == Outcome.TIMEOUT
    # A planned phase that never ran (fail-fast) is no pass.
    assert run_outcome(["unit", "lint"], _ran(("unit", passed)), None) == Outcome.FAILED
    assert run_outcome(["unit"], _ran(("unit", PhaseStatus.SKIPPED)), None) == Outcome.PASSED


def _claiming_success(outcome: Outcome) -> SuiteExecutionResult:
    """A result that says success: true, as records stored before the rule may."""
    now = datetime.now(UTC)
    return SuiteExecutionResult(
        execution_id=uuid4(),
        scenario_name="s",
        started_at=now,
        completed_at=now,
        success=True,
        outcome=outcome,
    )


@pytest.mark.parametrize("outcome", [Outcome.CANCELLED, Outcome.TIMEOUT, Outcome.ERRORED, Outcome.FAILED])
def test_a_result_that_did_not_pass_is_never_a_success(outcome: Outcome) -> None:
    result = _claiming_success(outcome)
    assert result.success is False
    assert result.model_dump(by_alias=True)["success"] is False


def test_a_passed_result_keeps_its_success() -> None:
    assert _claiming_success(Outcome.PASSED).success is True
