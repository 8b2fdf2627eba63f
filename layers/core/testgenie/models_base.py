"""Base class for the JSON-facing models: camelCase keys, snake_case attributes, one timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

# Every timestamp the API answers looks like 2026-01-09T10:15:00.000000Z, whether pydantic or
# the history documents (history/documents.py: timestamp) wrote it.
UTC_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso_utc(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(UTC_TIMESTAMP_FORMAT)


UtcDateTime = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class CamelModel(BaseModel):
    # defer_build: schemas are built on first use, not at import (the history function's cold start).
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The API shape: camelCase keys, optional fields left out when unset."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
