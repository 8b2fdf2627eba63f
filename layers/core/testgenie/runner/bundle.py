"""A fresh workspace from a bundle URL and its digest (the runner's only way to a scenario).

Simple version: download, check the sha256, extract safely into a new folder, remove it at the end.
The digest-checked cache, size/member caps and link refusal are refined in this module.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

from testgenie.errors import ValidationError
from testgenie.orchestrator.workspace import Workspace, safe_extract
from testgenie.runner.protocol import BundleRef

_CHUNK = 1024 * 1024


class BundleError(ValidationError):
    """The bundle cannot be fetched or does not match its digest; the message says which."""


def _download(bundle: BundleRef, target: Path) -> None:
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(bundle.url, timeout=60) as answer, target.open("wb") as out:  # noqa: S310
            while block := answer.read(_CHUNK):
                size += len(block)
                if size > bundle.size_bytes:
                    raise BundleError(f"scenario bundle is larger than the {bundle.size_bytes} bytes planned")
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError) as exc:
        raise BundleError(f"scenario bundle could not be fetched: {exc}") from None
    if digest.hexdigest() != bundle.sha256:
        raise BundleError("scenario bundle does not match its digest (it changed after it was planned)")


def _scenario_root(tree: Path) -> Path:
    """Bundles made with `tar -C scenarios -czf x.tar.gz <name>` hold one top folder: use it."""
    entries = list(tree.iterdir())
    if len(entries) == 1 and (entries[0] / ".testgenie" / "testing.json").is_file():
        return entries[0]
    return tree


@contextmanager
def fresh_workspace(
    bundle: BundleRef, execution_id: UUID, *, parent: Path | None = None
) -> Iterator[Workspace]:
    """A new folder holding the verified bundle's files, HOME, TMPDIR and reports; removed on exit."""
    root = Path(tempfile.mkdtemp(prefix=f"testgenie-{execution_id}-", dir=parent))
    try:
        archive = root / "bundle.tar.gz"
        _download(bundle, archive)
        tree = root / "tree"
        tree.mkdir()
        safe_extract(archive, tree)
        archive.unlink()
        scenario_dir = root / "scenario"
        _scenario_root(tree).rename(scenario_dir)
        workspace = Workspace(root, scenario_dir, root / "home", root / "tmp", root / "reports")
        for folder in (workspace.home, workspace.tmp, workspace.reports):
            folder.mkdir()
        yield workspace
    finally:
        shutil.rmtree(root, ignore_errors=True)
