"""The query of a history list: filters, page size and position, validated (400s name the parameter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from testgenie.errors import ValidationError
from testgenie.history.cursor import decode_cursor
from testgenie.orchestrator.models import Outcome, PhaseStatus
from testgenie.queue.models import SuiteRequestStatus
from testgenie.records import Trigger

MAX_PAGE = 50
EXECUTIONS_CURSOR = "executions"
SUITE_REQUESTS_CURSOR = "suite-requests"
SCENARIOS_CURSOR = "scenarios"


def clamp_limit(limit: int | None) -> int:
    """The seed's paging: default and maximum 50 (a larger value is clamped, not refused)."""
    if limit is None or limit <= 0 or limit > MAX_PAGE:
        return MAX_PAGE
    return limit


def split_values(raw: list[str] | str | None) -> list[str]:
    """`a,b` or repeated parameters -> [a, b], trimmed, lower-cased, without blanks or repeats."""
    values = [raw] if isinstance(raw, str) else list(raw or [])
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            item = part.strip().lower()
            if item and item not in found:
                found.append(item)
    return found


def parse_choices(raw: list[str] | str | None, field: str, allowed: type[Outcome | PhaseStatus]) -> list[str]:
    values = split_values(raw)
    known = [member.value for member in allowed]
    for value in values:
        if value not in known:
            raise ValidationError(f"{field} must be one or more of {', '.join(known)} (got '{value}')")
    return values


def parse_time(raw: str | None, field: str) -> datetime | None:
    """ISO 8601; a time without offset is UTC."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{field} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_key(raw: str | None, field: str, allowed: list[str]) -> str | None:
    value = (raw or "").strip().lower()
    if not value:
        return None
    if value not in allowed:
        raise ValidationError(f"{field} must be one of {', '.join(allowed)} (got '{value}')")
    return value


@dataclass(frozen=True)
class Keyset:
    """Where a page starts: after (at, key) of the previous page's last item, or at an offset."""

    limit: int = MAX_PAGE
    offset: int = 0
    after: tuple[datetime, str] | None = None


def parse_keyset(kind: str, limit: int | None, offset: int | None, cursor: str | None) -> Keyset:
    after = decode_cursor(kind, cursor) if cursor and cursor.strip() else None
    if after is not None and offset:
        raise ValidationError("pass either cursor or offset, not both")
    return Keyset(limit=clamp_limit(limit), offset=max(offset or 0, 0), after=after)


def uuid_key(after: tuple[datetime, str] | None) -> tuple[datetime, UUID] | None:
    if after is None:
        return None
    try:
        return after[0], UUID(after[1])
    except ValueError:
        raise ValidationError("cursor is invalid; pass the nextCursor of a previous answer") from None


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


@dataclass(frozen=True)
class SuiteRequestFilter:
    status: str | None = None
    scenario: str | None = None
    since: datetime | None = None


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


def suite_request_filter(
    *, status: str | None, scenario: str | None, since: str | None
) -> SuiteRequestFilter:
    return SuiteRequestFilter(
        status=parse_key(status, "status", [s.value for s in SuiteRequestStatus]),
        scenario=scenario,
        since=parse_time(since, "since"),
    )
