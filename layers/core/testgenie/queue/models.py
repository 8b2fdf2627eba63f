"""SuiteRequest, its statuses and the legal transitions (docs/database.md), with its validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from testgenie.errors import ValidationError
from testgenie.models_base import CamelModel, UtcDateTime
from testgenie.orchestrator.models import ShardsSetting, SuitePlan, parse_shards
from testgenie.paging import parse_key, parse_time
from testgenie.records import Trigger


class SuiteRequestStatus(StrEnum):
    QUEUED = "queued"
    DELEGATED = "delegated"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


CLAIMABLE = (SuiteRequestStatus.QUEUED, SuiteRequestStatus.DELEGATED)
TERMINAL = frozenset({SuiteRequestStatus.COMPLETED, SuiteRequestStatus.FAILED, SuiteRequestStatus.CANCELLED})
CANCELLABLE = (*CLAIMABLE, SuiteRequestStatus.RUNNING)

ALLOWED_TYPES = ("unit", "integration", "performance", "vault", "regression")
DEFAULT_TYPES = ["unit", "integration"]
DEFAULT_COVERAGE = 95
MAX_IDEMPOTENCY_KEY_LENGTH = 255
REQUEST_NOT_FOUND = "suite request not found"
# Every list of a request body is bounded (the catalog has 11 phases; openapi.json says so).
MAX_PLAN_ITEMS = 50


class SuiteRequest(CamelModel):
    id: UUID
    scenario_name: str
    requested_types: list[str]
    coverage_target: int
    priority: Priority
    status: SuiteRequestStatus
    notes: str | None = None
    delegation_issue_id: str | None = None
    preset: str | None = None
    phases: list[str] | None = None
    skip: list[str] | None = None
    fail_fast: bool = False
    shards: ShardsSetting | None = None
    trigger: Trigger = Trigger.API
    attempts: int = 0
    cancel_requested: bool = False
    progress: dict[str, Any] | None = None
    reason: str | None = Field(default=None, description="why the request ended failed or cancelled")
    execution_id: UUID | None = None
    rerun_of: UUID | None = Field(default=None, description="the execution this request reruns")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @computed_field(alias="estimatedQueueTimeSeconds")  # type: ignore[prop-decorator]
    @property
    def estimated_queue_time_seconds(self) -> int:
        return estimate_queue_time(len(self.requested_types), self.coverage_target)

    def execution_request(self) -> SuitePlan:
        """The plan stored on this row, as the engine takes it."""
        return SuitePlan(
            scenario_name=self.scenario_name,
            preset=self.preset,
            phases=self.phases,
            skip=self.skip,
            fail_fast=self.fail_fast,
            shards=self.shards,
        )


def estimate_queue_time(type_count: int, coverage: int) -> int:
    """The estimate docs/api.md gives: 30 s per requested type plus the coverage target."""
    return (type_count if type_count > 0 else 2) * 30 + (coverage if coverage > 0 else DEFAULT_COVERAGE)


class SuiteRequestSnapshot(CamelModel):
    """Counts per status (the queue snapshot, for health and dashboards)."""

    total: int = 0
    queued: int = 0
    delegated: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    oldest_queued_at: UtcDateTime | None = None

    @computed_field(alias="pending")  # type: ignore[prop-decorator]
    @property
    def pending(self) -> int:
        return self.queued + self.delegated


class Claim(BaseModel):
    """A claimed request plus the fencing token every later write of this worker must present."""

    model_config = ConfigDict(frozen=True)

    request: SuiteRequest
    token: int = Field(description="attempts value at claim time; only a claim bumps it (docs/database.md)")
    claim_id: UUID = Field(
        description="this claim's own id: a claim whose acknowledgement was lost is recognised"
    )
    lease_expires_at: datetime


class QueueSuiteRequestInput(CamelModel):
    """POST /suite-requests body. Loose on purpose: requestedTypes may be null, a string or a list."""

    model_config = ConfigDict(extra="ignore")

    scenario_name: str = ""
    requested_types: list[str] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    coverage_target: int = 0
    priority: str = ""
    notes: str = ""
    preset: str | None = None
    phases: list[str] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    skip: list[str] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    fail_fast: bool = False
    shards: ShardsSetting | None = Field(
        default=None, description='run the sharded phases (else unit) as this many shards, or "auto"'
    )

    @field_validator("shards", mode="before")
    @classmethod
    def _shards(cls, value: Any) -> Any:
        return parse_shards(value)

    @field_validator("requested_types", mode="before")
    @classmethod
    def _string_or_list(cls, value: Any) -> Any:
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, str):
            return [value]
        raise ValueError("expected string or array of strings for requestedTypes")


def normalize_types(raw: list[str] | None) -> list[str]:
    types: list[str] = []
    for item in raw or []:
        name = item.strip().lower()
        if not name:
            continue
        if name not in ALLOWED_TYPES:
            raise ValidationError(f"requested type '{item}' is not supported")
        if name not in types:
            types.append(name)
    return types or list(DEFAULT_TYPES)


def normalize_priority(raw: str) -> Priority:
    name = raw.strip().lower()
    if not name:
        return Priority.NORMAL
    try:
        return Priority(name)
    except ValueError:
        raise ValidationError(f"priority '{raw}' is not supported") from None


def normalize_coverage(raw: int) -> int:
    if raw == 0:
        return DEFAULT_COVERAGE
    if not 1 <= raw <= 100:
        raise ValidationError("coverageTarget must be between 1 and 100")
    return raw


SUITE_REQUESTS_CURSOR = "suite-requests"


@dataclass(frozen=True)
class SuiteRequestFilter:
    """GET /suite-requests?status&scenario&since (each the leading column of an index)."""

    status: str | None = None
    scenario: str | None = None
    since: datetime | None = None


def suite_request_filter(
    *, status: str | None, scenario: str | None, since: str | None
) -> SuiteRequestFilter:
    return SuiteRequestFilter(
        status=parse_key(status, "status", [s.value for s in SuiteRequestStatus]),
        scenario=scenario,
        since=parse_time(since, "since"),
    )


def checked_idempotency_key(raw: str | None) -> str | None:
    """The Idempotency-Key header as stored: trimmed, printable, 1 to 255 characters (docs/api.md)."""
    if not raw:
        return None  # an empty header is no key
    if not raw.isprintable():
        raise ValidationError("Idempotency-Key must be printable text")
    key = raw.strip()
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationError(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return key
