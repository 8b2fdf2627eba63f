"""Base class for the JSON-facing models: camelCase keys, snake_case attributes, one timestamp format."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from testgenie.suggest import closest

# Every timestamp the API answers looks like 2026-01-09T10:15:00.000000Z, whether pydantic or
# the history documents (history/documents.py: timestamp) wrote it.
UTC_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# The wall clock the services and stores read (a parameter, so tests can move time on).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


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


# The error type of a key no field has (entrypoints/http.py answers it as a 400 with this message).
UNKNOWN_FIELD_ERROR = "unknown_field"


def closest_hint(key: str, known: Iterable[str], noun: str = "fields") -> str:
    """`did you mean 'phases'?` (difflib's closest name), else the list of known names."""
    names = sorted(known)
    if not names:
        return "this request takes no fields"
    close = closest(key, names)
    return f"did you mean '{close}'?" if close else f"known {noun}: " + ", ".join(names)


def unknown_field_message(key: str, known: Iterable[str]) -> str:
    """`unknown field 'phasess' (did you mean 'phases'?)`."""
    return f"unknown field '{key[:100]}' ({closest_hint(key, known)})"


def wire_names(model: type[BaseModel]) -> list[str]:
    """The keys a model reads from JSON: each field's alias (camelCase), else its name."""
    return [info.alias or name for name, info in model.model_fields.items()]


class StrictBody(CamelModel):
    """A JSON body a client sends: every key must be a documented field, spelt as documented
    (camelCase). A typo is refused, not dropped: dropping it would run a different plan than the
    one asked for (docs/api.md, "Request bodies"). extra="forbid" also writes
    `additionalProperties: false` into openapi.json."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _documented_keys_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = wire_names(cls)
            unknown = [key for key in data if key not in known]
            if unknown:
                messages = [unknown_field_message(str(key), known) for key in unknown[:5]]
                raise PydanticCustomError(UNKNOWN_FIELD_ERROR, "{message}", {"message": "; ".join(messages)})
        return data


class NoFields(StrictBody):
    """The body of a route that takes none (cancel, pin): absent or `{}`. A key sent there (a cancel
    `reason`, say) is refused like any unknown field, not dropped without a word."""
