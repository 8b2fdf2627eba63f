"""The engine interface SuiteExecutionService depends on (the orchestrator, or a fake in tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from testgenie.orchestrator.models import PhasePlan, PhaseResult, SuiteExecutionResult, SuitePlan

# Called after each phase with the results so far and the planned phase names.
ProgressCallback = Callable[[list[PhaseResult], list[str]], None]
# Asked between phases; True stops the run (outcome "cancelled").
StopCheck = Callable[[], bool]


class SuiteEngine(Protocol):
    def plan(self, request: SuitePlan) -> PhasePlan:
        """Validate the request against the catalog and the scenario's config; raise ValidationError."""
        ...

    def execute(
        self,
        request: SuitePlan,
        execution_id: UUID,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        *,
        deadline: float | None = None,
    ) -> SuiteExecutionResult:
        """Run the planned phases; the result carries execution_id. Raise only on engine faults.

        `deadline` (time.monotonic()) ends the run early with outcome `timeout`, leaving time for
        the final writes before the Lambda itself is stopped.
        """
        ...
