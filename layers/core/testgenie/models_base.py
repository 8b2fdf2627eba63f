"""Base class for the JSON-facing models: camelCase keys, snake_case attributes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The API shape: camelCase keys, optional fields left out when unset."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
