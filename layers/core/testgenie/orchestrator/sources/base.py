"""What a scenario source is (the port the coordinator plans through and the runner's bundle comes
from), and what both adapters share: a folder (sources/local.py) or S3 bundles (sources/s3.py);
sources/factory.py picks one from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from testgenie.errors import ScenarioNotFoundError
from testgenie.observability import logger
from testgenie.orchestrator.sources.bundles import (
    MAX_ARCHIVE_BYTES,
    BundleRef,
)
from testgenie.suggest import did_you_mean

MAX_BUNDLE_BYTES = MAX_ARCHIVE_BYTES

# S3 object metadata `testgenie push` writes: the sha256 of the bundle (x-amz-meta-sha256).
DIGEST_METADATA = "sha256"

MARKER = ".testgenie-extracted"


class ScenarioSource(Protocol):
    def locate(self, name: str) -> Path:
        """A folder holding the scenario, to plan from (read it, never write it or run it)."""
        ...

    def bundle(self, name: str, expires_in: int = 900) -> BundleRef:
        """Where the runner fetches the scenario's archive, and its digest; ValidationError when unknown."""
        ...

    def snapshot(self, name: str, expires_in: int = 900) -> tuple[BundleRef, Path]:
        """`bundle` and a folder of the same version to plan from, in one look-up."""
        ...

    def names(self) -> list[str]:
        """The scenarios it holds, sorted (what the dashboard offers to run); TransientError when
        it cannot be listed."""
        ...

    def describe(self) -> str: ...


def scenario_not_found(name: str, where: str, known: list[str]) -> ScenarioNotFoundError:
    """The 400 names the scenario and the closest known one, never the service's folder or bucket
    (logged for operators)."""
    logger.info("scenario not found", extra={"scenario": name, "source": where})
    return ScenarioNotFoundError(f"scenario '{name}' was not found{did_you_mean(name, known)}", name)


def bundle_root(extracted: Path, name: str | None) -> Path:
    """Bundles made with `tar -C scenarios -czf x.tar.gz <name>` hold one top folder: use it."""
    entries = [p for p in extracted.iterdir() if p.name != MARKER]
    if len(entries) == 1 and entries[0].is_dir():
        top = entries[0]
        if top.name == name or (top / ".testgenie" / "testing.json").is_file():
            return top
    return extracted
