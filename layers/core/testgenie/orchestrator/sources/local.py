"""Scenarios as folders under one root (a checkout, or an EFS mount in Lambda)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from testgenie.orchestrator.planning.plan import validate_scenario_name
from testgenie.orchestrator.sources.base import scenario_not_found
from testgenie.orchestrator.sources.bundles import (
    BundleRef,
    bundle_digest,
    pack_folder,
)

if TYPE_CHECKING:
    pass


def _packed_dir() -> Path:
    return Path(tempfile.gettempdir()) / "testgenie" / "packed"


class LocalScenarioSource:
    """Scenarios as folders under one root (a checkout, or an EFS mount in Lambda)."""

    def __init__(self, root: Path | str, packed_dir: Path | None = None) -> None:
        self.root = Path(root)
        self.packed_dir = packed_dir or _packed_dir()

    def describe(self) -> str:
        return str(self.root)

    def locate(self, name: str) -> Path:
        name = validate_scenario_name(name)
        path = self.root / name
        if not path.is_dir():
            raise scenario_not_found(name, self.describe(), self.names())
        return path

    def names(self) -> list[str]:
        """The scenarios under the root (folders with a .testgenie/testing.json)."""
        try:
            return sorted(
                p.name for p in self.root.iterdir() if (p / ".testgenie" / "testing.json").is_file()
            )
        except OSError:
            return []

    def bundle(self, name: str, expires_in: int = 900) -> BundleRef:
        """The folder packed as a reproducible archive (same files, same digest), as a file:/// URL."""
        folder = self.locate(name)
        data = pack_folder(folder)
        digest = bundle_digest(data)
        self.packed_dir.mkdir(parents=True, exist_ok=True)
        path = self.packed_dir / f"{digest}.tar.gz"
        if not path.is_file():
            fd, tmp = tempfile.mkstemp(dir=self.packed_dir, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)  # a runner of another user reads it too
            os.replace(tmp, path)
        return BundleRef(url=path.resolve().as_uri(), sha256=digest, size_bytes=len(data))

    def snapshot(self, name: str, expires_in: int = 900) -> tuple[BundleRef, Path]:
        return self.bundle(name, expires_in), self.locate(name)
