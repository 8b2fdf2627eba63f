"""POST /executions/{id}/rerun: queue the plan of a recorded execution again, linked by rerunOf.

Lives on the execution side (it reads a record, then queues through SuiteRequestService), so the
queue package keeps knowing nothing of executions.
"""

from __future__ import annotations

from uuid import UUID

from testgenie.db import Transactions
from testgenie.errors import NotFoundError, ScenarioNotFoundError, ValidationError
from testgenie.execution.store import ExecutionStore
from testgenie.orchestrator.models import PhaseStatus
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequest
from testgenie.queue.service import SuiteRequestService
from testgenie.records import EXECUTION_NOT_FOUND, SuiteExecutionRecord, Trigger


class RerunService:
    def __init__(
        self,
        db: Transactions,
        suite_requests: SuiteRequestService,
        executions: ExecutionStore,
    ) -> None:
        self._db = db
        self._suite_requests = suite_requests
        self._executions = executions

    def rerun(self, execution_id: UUID, failed_only: bool = False) -> SuiteRequest:
        """A queued suite request with trigger `rerun`: the same plan, or only the failed phases."""
        record = self._db.run_statement(lambda conn: self._executions.get_by_id(conn, execution_id))
        if record is None:
            raise NotFoundError(EXECUTION_NOT_FOUND)
        payload = rerun_payload(record, failed_only)
        try:
            request, _ = self._suite_requests.queue(payload, Trigger.RERUN, rerun_of=execution_id)
        except ScenarioNotFoundError as exc:
            # E.g. a local stack restarted on another scenarios folder: say why an old run cannot rerun.
            raise ScenarioNotFoundError(
                f"execution {execution_id} ran scenario '{exc.scenario}', which the service no longer "
                f"has ({exc.message}): push that scenario again, or serve a scenarios folder that holds it",
                exc.scenario,
            ) from None
        return request


def rerun_payload(record: SuiteExecutionRecord, failed_only: bool) -> QueueSuiteRequestInput:
    """The plan as the original was asked for (requested), or only its failed phases."""
    asked = record.requested or {}
    phases, skip = asked.get("phases"), asked.get("skip")
    if failed_only:
        phases = [phase.name for phase in record.phases if phase.status == PhaseStatus.FAILED]
        skip = None
        if not phases:
            raise ValidationError("the execution has no failed phases; rerun it without failedOnly")
    return QueueSuiteRequestInput(
        scenario_name=record.scenario_name,
        preset=asked.get("preset") or record.preset,
        phases=phases,
        skip=skip,
        fail_fast=bool(asked.get("failFast", False)),
        shards=asked.get("shards"),
    )
