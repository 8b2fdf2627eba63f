"""SCENARIOS_SOURCE picks the scenario source: S3 bundles (the service) or a folder (one machine)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from testgenie.errors import ValidationError
from testgenie.orchestrator.sources.base import ScenarioSource
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.orchestrator.sources.s3 import S3ScenarioSource

if TYPE_CHECKING:
    from testgenie.settings import Settings


def scenario_source_from_settings(settings: Settings, *, planning_only: bool = True) -> ScenarioSource:
    """SCENARIOS_SOURCE: `s3://bucket/prefix` or a folder."""
    source = settings.scenarios_source.strip()
    if source.startswith("s3://"):
        bucket, _, prefix = source[len("s3://") :].partition("/")
        if not bucket:
            raise ValidationError(f"SCENARIOS_SOURCE '{source}' has no bucket")
        # The service's coordinators only plan: scenario code runs in the runner alone.
        return S3ScenarioSource(bucket, prefix, planning_only=planning_only)
    return LocalScenarioSource(Path(source))
