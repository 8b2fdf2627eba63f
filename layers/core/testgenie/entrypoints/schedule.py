"""EventBridge Scheduler input for the execute function: `enqueue`, `reap` and `prune` (retention; docs/api.md).

All are safe to run twice: `prune` deletes only what is expired; `enqueue` derives an idempotency key from the schedule's firing time
(`<aws.scheduler.scheduled-time>` in the template's Input), `reap` locks rows with SKIP LOCKED.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from testgenie.errors import ValidationError
from testgenie.execution.retention import RetentionService
from testgenie.models_base import StrictBody
from testgenie.queue.models import MAX_PLAN_ITEMS, QueueSuiteRequestInput
from testgenie.queue.service import SuiteRequestService
from testgenie.records import Trigger


class SchedulerEvent(StrictBody):
    """The schedule's Input (template.yaml); a key no field has is refused, naming it."""

    action: Literal["enqueue", "reap", "prune"]
    scenario_name: str = Field(default="", max_length=200)
    preset: str | None = Field(default=None, max_length=200)
    phases: list[str] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    skip: list[str] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    fail_fast: bool = False
    scheduled_time: str | None = Field(default=None, max_length=64)
    schedule_name: str | None = Field(default=None, max_length=200)


def is_schedule_event(event: dict[str, Any]) -> bool:
    return "action" in event and "Records" not in event and "requestContext" not in event


def parse_schedule(event: dict[str, Any]) -> SchedulerEvent:
    try:
        return SchedulerEvent.model_validate(event)
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ValidationError(
            f"invalid schedule input: {field}: {first['msg']}"
            if field
            else f"invalid schedule input: {first['msg']}"
        ) from None


def enqueue_key(schedule: SchedulerEvent) -> str | None:
    """One suite request per firing: the same scheduled time (delivered twice) gives the same key."""
    if not schedule.scheduled_time or schedule.scheduled_time.startswith("<aws."):
        return None  # no firing time (or a placeholder left unsubstituted, as on one machine)
    parts = [
        "schedule",
        schedule.schedule_name or "",
        schedule.scenario_name.strip(),
        schedule.preset or "",
        schedule.scheduled_time,
    ]
    return ":".join(parts)[:255]


def run_schedule(
    schedule: SchedulerEvent, suite_requests: SuiteRequestService, retention: RetentionService | None = None
) -> dict[str, Any]:
    if schedule.action == "prune":
        if retention is None:
            raise ValidationError("prune needs the retention service")
        return retention.prune().to_json_dict()
    if schedule.action == "reap":
        report = suite_requests.reap_expired()
        return {
            "action": "reap",
            "requeued": len(report.requeued),
            "failed": len(report.failed),
            "cancelled": len(report.cancelled),
            "republished": len(report.republished),
        }
    payload = QueueSuiteRequestInput(
        scenario_name=schedule.scenario_name,
        preset=schedule.preset,
        phases=schedule.phases,
        skip=schedule.skip,
        fail_fast=schedule.fail_fast,
    )
    request, created = suite_requests.queue(payload, Trigger.SCHEDULE, enqueue_key(schedule))
    return {"action": "enqueue", "suiteRequestId": str(request.id), "created": created}
