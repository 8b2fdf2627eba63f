"""Runs as durable executions, as ExecuteFunction sees them: start one, run one now, cancel one now.

- A queued request (SQS, schedules through the queue) starts the execution named after it; a
  duplicate delivery finds the name taken and is acknowledged: one execution per request.
- `POST /executions` starts one and waits (up to 25 s: entrypoints/deadline.py) for its record: finished, the
  result (200, as ever); not yet, where to follow it (202).
- Cancelling a running request stops its durable execution at once and records it `cancelled` with
  the phases it finished; the runner invocation in flight is abandoned (its answer is discarded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import Field

from testgenie.coordinator.control import DurableControl
from testgenie.errors import NotFoundError, TransientError
from testgenie.models_base import CamelModel
from testgenie.observability import logger
from testgenie.queue.models import QueueSuiteRequestInput, SuiteRequest, SuiteRequestStatus
from testgenie.records import execution_id_for

if TYPE_CHECKING:
    from testgenie.execution.service import SuiteExecutionInput, SuiteExecutionService
    from testgenie.history.service import ExecutionHistoryService
    from testgenie.queue.service import SuiteRequestService

_POLL_SECONDS = 0.1
_FIRST_POLL_SECONDS = 0.005
# For its first second a run is polled at most this far apart: with the pause doubling up to its cap
# straight away, a run that ended at 0.4 s was answered at 0.6 s (docs/performance.md).
_SHORT_RUN_SECONDS = 1.0
_SHORT_RUN_POLL_SECONDS = 0.02
CANCEL_REASON = "cancelled while it ran: its durable execution was stopped"


class ExecutionAccepted(CamelModel):
    """202 of POST /executions: the run goes on; follow the request, then read the execution."""

    execution_id: UUID = Field(description="the id the execution will be recorded under")
    suite_request_id: UUID = Field(description="the suite request that tracks the run (progress, cancel)")
    status: str = Field(default="running", description="the request's status when this was answered")
    follow: str = Field(description="GET this for progress; it names executionId once finished")
    result: str = Field(description="GET this once the request is terminal: the execution's result")


class DurableRuns:
    def __init__(
        self,
        requests: SuiteRequestService,
        executions: SuiteExecutionService,
        history: ExecutionHistoryService,
        control: DurableControl,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._requests = requests
        self._executions = executions
        self._history = history
        self._control = control
        self._clock = clock
        self._sleep = sleep

    def start(self, suite_request_id: UUID) -> bool:
        """Start the request's execution; False when it was started before (a duplicate).

        A request still queued whose execution has already ended can never run (its name is taken):
        its execution ended before it claimed the request (it failed, timed out or was stopped). Such a
        request is failed with a reason here, when a delivery (or the reaper's re-publish) finds it.
        """
        if self._control.start(suite_request_id) is not None:
            return True
        status = self._control.ended(suite_request_id)
        if status is not None:
            reason = f"interrupted: its durable execution ended ({status}) before it claimed the request"
            if self._requests.fail_unstarted(suite_request_id, reason):
                logger.warning("a request whose execution ended unclaimed failed", extra={"status": status})
        return False

    def run_now(self, run: SuiteExecutionInput, wait_seconds: float) -> str | ExecutionAccepted:
        """The result document when the run ends within `wait_seconds`, else where to follow it.
        ValidationError (400), NotFoundError (404) and ConflictError (409) as the direct path."""
        linked = self._executions.check_startable(run)
        if linked is None:
            request = run.request
            queued, _ = self._requests.queue(
                QueueSuiteRequestInput(
                    scenario_name=request.scenario_name,
                    preset=request.preset,
                    phases=request.phases,
                    skip=request.skip,
                    fail_fast=request.fail_fast,
                    shards=request.shards,
                ),
                run.trigger,
            )
            linked = queued
        try:
            self.start(linked.id)
        except TransientError as exc:  # its queue message starts it too
            logger.warning(
                "could not start the run at once; its queue message will", extra={"error": exc.message}
            )
        return self._wait(linked.id, wait_seconds)

    def _wait(self, suite_request_id: UUID, wait_seconds: float) -> str | ExecutionAccepted:
        execution_id = execution_id_for(suite_request_id)
        started = self._clock()
        until = started + wait_seconds
        pause = _FIRST_POLL_SECONDS  # a short run answers in milliseconds; a long one is polled gently
        while True:
            try:
                return self._history.get(execution_id)
            except NotFoundError:
                pass
            if self._clock() >= until:
                current = self._requests.get(suite_request_id)
                return ExecutionAccepted(
                    execution_id=execution_id,
                    suite_request_id=suite_request_id,
                    status=current.status.value,
                    follow=f"/api/v1/suite-requests/{suite_request_id}",
                    result=f"/api/v1/executions/{execution_id}",
                )
            self._sleep(pause)
            short = self._clock() - started < _SHORT_RUN_SECONDS
            pause = min(_SHORT_RUN_POLL_SECONDS if short else _POLL_SECONDS, pause * 2)

    def cancel(self, suite_request_id: UUID) -> SuiteRequest:
        """Cancel now: a queued request at once; a running one by stopping its durable execution and
        recording it. When the stop cannot be made (Lambda unreachable), the request stays `running`
        with cancelRequested (shown "cancelling") and its coordinator stops at the next phase."""
        current = self._requests.cancel(suite_request_id)
        if current.status is not SuiteRequestStatus.RUNNING:
            return current
        arn = self._requests.durable_execution_arn(suite_request_id)
        if not arn:
            return current  # a run of the direct path: it stops after its current phase
        try:
            self._control.stop(arn, CANCEL_REASON)
        except TransientError as exc:
            logger.warning(
                "could not stop the durable execution; it stops at its next phase",
                extra={"error": exc.message},
            )
            return current
        return self._requests.record_stopped(suite_request_id, CANCEL_REASON)
