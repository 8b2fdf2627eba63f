"""The filters of GET /executions, validated (400s name the parameter); paging is testgenie/paging.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from testgenie.errors import ValidationError
from testgenie.orchestrator.models import Outcome, PhaseStatus
from testgenie.paging import parse_key, parse_time, split_values
from testgenie.records import Trigger

EXECUTIONS_CURSOR = "executions"
SCENARIOS_CURSOR = "scenarios"


def parse_choices(raw: list[str] | str | None, field: str, allowed: type[Outcome | PhaseStatus]) -> list[str]:
    values = split_values(raw)
    known = [member.value for member in allowed]
    for value in values:
        if value not in known:
            raise ValidationError(f"{field} must be one or more of {', '.join(known)} (got '{value}')")
    return values


@dataclass(frozen=True)
class ExecutionFilter:
    scenario: str | None = None
    outcomes: tuple[str, ...] = ()
    trigger: str | None = None
    preset: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    phase: str | None = None
    phase_statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.phase_statuses and not self.phase:
            raise ValidationError("phaseStatus needs phase")
        if self.since and self.until and self.since > self.until:
            raise ValidationError("since must not be after until")


def execution_filter(
    *,
    scenario: str | None,
    outcome: list[str] | str | None,
    trigger: str | None,
    preset: str | None,
    since: str | None,
    until: str | None,
    phase: str | None,
    phase_status: list[str] | str | None,
) -> ExecutionFilter:
    return ExecutionFilter(
        scenario=scenario,
        outcomes=tuple(parse_choices(outcome, "outcome", Outcome)),
        trigger=parse_key(trigger, "trigger", [t.value for t in Trigger]),
        preset=(preset or "").strip().lower() or None,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
        phase=(phase or "").strip().lower() or None,
        phase_statuses=tuple(parse_choices(phase_status, "phaseStatus", PhaseStatus)),
    )
