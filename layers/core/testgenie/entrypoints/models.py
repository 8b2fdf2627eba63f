"""Request bodies and response shapes of the HTTP API (validation and the OpenAPI document)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator

from testgenie.errors import ValidationError
from testgenie.models_base import CamelModel, StrictBody
from testgenie.orchestrator.models import ShardsSetting, parse_shards
from testgenie.orchestrator.planning.catalog import (
    SCENARIO_NAME_RE,
    SCENARIO_NAME_REQUIRED,
    SCENARIO_NAME_RULE,
)
from testgenie.queue.models import MAX_PLAN_ITEMS, QueueSuiteRequestInput, SuiteRequest, SuiteRequestSnapshot
from testgenie.records import SuiteExecutionSummary

if TYPE_CHECKING:
    from testgenie.execution.service import SuiteExecutionInput

_TEXT_FIELDS = ("scenario_name", "preset", "phases", "skip", "notes", "priority", "requested_types")


def check_text(value: Any) -> Any:
    """Strings (or lists of them) the database can store: no NUL, valid UTF-8, bounded length."""
    for item in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
        if not isinstance(item, str):
            continue
        if "\x00" in item:
            raise ValueError("must not contain NUL characters")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid UTF-8 text") from None
        if len(item) > 10_000:
            raise ValueError("must be at most 10000 characters")
    return value


def check_scenario_name(value: str) -> str:
    name = value.strip()
    if name and not SCENARIO_NAME_RE.match(name):
        raise ValueError(SCENARIO_NAME_RULE)
    return value


class SuiteExecutionBody(StrictBody):
    """POST /executions: run a suite now (an unknown field is a 400 naming it)."""

    scenario_name: str = Field(default="", description="the scenario to run (required)")
    suite_request_id: str | None = Field(default=None, description="a queued suite request to run and finish")
    preset: str | None = Field(default=None, description="quick | smoke | comprehensive | a scenario preset")
    phases: list[str] | None = Field(
        default=None, max_length=MAX_PLAN_ITEMS, description="explicit phases (win over the preset)"
    )
    skip: list[str] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    fail_fast: bool = False
    shards: ShardsSetting | None = Field(
        default=None,
        description='run the sharded phases (else unit) as this many shards (1 … MaxShards), or "auto"',
    )

    @field_validator("shards", mode="before")
    @classmethod
    def _shards(cls, value: Any) -> Any:
        return parse_shards(value)

    @field_validator("scenario_name", "suite_request_id", "preset", "phases", "skip")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return check_text(value)

    @field_validator("scenario_name")
    @classmethod
    def _scenario(cls, value: str) -> str:
        return check_scenario_name(value)

    def to_input(self) -> SuiteExecutionInput:
        from testgenie.execution.service import SuiteExecutionInput
        from testgenie.orchestrator.models import SuitePlan

        scenario = self.scenario_name.strip()
        if not scenario:
            raise ValidationError(SCENARIO_NAME_REQUIRED)
        link: UUID | None = None
        if self.suite_request_id and self.suite_request_id.strip():
            try:
                link = UUID(self.suite_request_id.strip())
            except ValueError:
                raise ValidationError("suiteRequestId must be a valid UUID") from None
        request = SuitePlan(
            scenario_name=scenario,
            preset=(self.preset or "").strip() or None,
            phases=self.phases,
            skip=self.skip,
            fail_fast=self.fail_fast,
            shards=self.shards,
        )
        return SuiteExecutionInput(request=request, suite_request_id=link)


class SuiteRequestBody(QueueSuiteRequestInput, StrictBody):
    """POST /suite-requests: QueueSuiteRequestInput, plus text the database can store; an unknown
    field is a 400 naming it."""

    model_config = ConfigDict(extra="forbid")

    @field_validator(*_TEXT_FIELDS)
    @classmethod
    def _text(cls, value: Any) -> Any:
        return check_text(value)

    @field_validator("scenario_name")
    @classmethod
    def _scenario(cls, value: str) -> str:
        return check_scenario_name(value)


class RerunBody(StrictBody):
    """POST /executions/{executionId}/rerun."""

    failed_only: bool = Field(default=False, description="only the phases that failed in the original")


class ExecutionPage(CamelModel):
    items: list[SuiteExecutionSummary]
    count: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")
    total: int | None = Field(default=None, description="matching executions (only with includeTotal=true)")


class SuiteRequestPage(CamelModel):
    items: list[SuiteRequest]
    count: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class PhaseDescriptor(CamelModel):
    name: str
    optional: bool
    description: str
    source: str
    default_timeout_seconds: int


class PhasePage(CamelModel):
    items: list[PhaseDescriptor]
    count: int


class AvailableScenario(CamelModel):
    scenario_name: str


class AvailableScenarioPage(CamelModel):
    items: list[AvailableScenario]
    count: int


class HealthDependencies(CamelModel):
    database: Literal["connected", "disconnected"]


class Health(CamelModel):
    status: Literal["healthy", "unhealthy"]
    dependencies: HealthDependencies
    queue: SuiteRequestSnapshot | None = Field(
        default=None,
        description="suite requests per status (the queue snapshot); absent when unhealthy",
    )
