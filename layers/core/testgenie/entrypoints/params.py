"""Path and query parameters: parsing, limits and their error messages (docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from testgenie.errors import ValidationError
from testgenie.orchestrator.planning.catalog import (
    MAX_SCENARIO_NAME_LENGTH,
    SCENARIO_NAME_RE,
    SCENARIO_NAME_RULE,
)
from testgenie.paging import MAX_PAGE

MAX_OFFSET = 1_000_000

# No upper bound on purpose: larger values are clamped to MAX_PAGE (docs/api.md; existing clients
# send limit=100), never refused.
LimitQuery = Annotated[
    int,
    Query(ge=1, description=f"page size (default {MAX_PAGE}); larger values are clamped to {MAX_PAGE}"),
]
ShardQuery = Annotated[
    int | None, Query(ge=0, le=999, description="a sharded phase: this shard's log (0 … N-1)")
]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip (default 0)")]
ScenarioQuery = Annotated[
    str | None,
    Query(max_length=MAX_SCENARIO_NAME_LENGTH, description="only executions of this scenario (exact name)"),
]


def parse_uuid(raw: str, what: str) -> UUID:
    """A path id; `what` is the human name used in the message (e.g. 'execution id')."""
    value = raw.strip()
    if not value:
        raise ValidationError(f"{what} is required")
    try:
        return UUID(value)
    except ValueError:
        raise ValidationError(f"{what} must be a valid UUID") from None


def parse_scenario(raw: str | None, field: str = "scenario") -> str | None:
    """A trimmed scenario name filter; blank means no filter."""
    value = (raw or "").strip()
    if not value:
        return None
    # A name that cannot exist is refused, not searched for.
    if len(value) > MAX_SCENARIO_NAME_LENGTH or not SCENARIO_NAME_RE.match(value):
        raise ValidationError(f"{field} {SCENARIO_NAME_RULE}")
    return value


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The list shape of every collection: `count` is the page length (docs/api.md)."""
    return {"items": items, "count": len(items)}


# History filters (docs/api.md). Several values: comma-separated or the parameter repeated (API
# Gateway joins repeated parameters with commas).
OutcomeQuery = Annotated[
    str | None, Query(max_length=200, description="passed|failed|errored|timeout|cancelled, one or more")
]
TriggerQuery = Annotated[str | None, Query(max_length=20, description="api|queue|schedule|rerun")]
PresetQuery = Annotated[str | None, Query(max_length=100, description="only runs of this preset")]
SinceQuery = Annotated[str | None, Query(max_length=40, description="ISO 8601; completed at or after")]
UntilQuery = Annotated[str | None, Query(max_length=40, description="ISO 8601; completed at or before")]
PhaseQuery = Annotated[str | None, Query(max_length=100, description="only runs that ran this phase")]
PhaseStatusQuery = Annotated[
    str | None, Query(max_length=40, description="passed|failed|skipped, one or more (needs phase)")
]
CursorQuery = Annotated[str | None, Query(max_length=500, description="the nextCursor of a previous page")]
IncludeTotalQuery = Annotated[bool, Query(description="also count every matching execution (slower)")]
WindowQuery = Annotated[int, Query(ge=1, le=500, description="the newest runs to cover (default 30)")]
WithQuery = Annotated[str, Query(alias="with", max_length=40, description="an execution id, or 'previous'")]
