"""The private copy each run works in, and the environment its commands see.

The coordinator plans from a source's folder (`locate`) and hands the runner a BundleRef
(`bundle`): a URL and the sha256 digest of the archive. The runner makes every run's workspace
from a fresh, checked extraction of those bytes (`fresh_workspace`); nothing mutable is shared
between runs. Where the scenario comes from is sources/'s.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from testgenie.orchestrator.sources.base import bundle_root
from testgenie.orchestrator.sources.bundles import (
    BundleCache,
    BundleRef,
    extract_bundle,
    remove_tree,
)

if TYPE_CHECKING:
    pass


# Caches and VCS data are never part of a run's copy (they are large and make runs differ).
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
# Where `testgenie push` puts a scenario's declared Python test dependencies inside its bundle.
VENDOR_RELPATH = ".testgenie/vendor/python"
# The runner's toolchain (pytest and plugins) when it is not installed next to the runner's own
# interpreter: /opt/python on Lambda (the ToolchainLayer).
TOOLCHAIN_PATH_ENV = "TESTGENIE_TOOLCHAIN_PATH"


@dataclass(frozen=True)
class Workspace:
    """One run's private space: the scenario copy, HOME, TMPDIR and the JUnit reports folder."""

    root: Path
    scenario_dir: Path
    home: Path
    tmp: Path
    reports: Path
    sha256: str | None = None  # digest of the bundle the copy was made from (None: a folder copy)

    def clear_reports(self) -> None:
        """Empty the reports folder between phases, so each phase reads only the reports it wrote."""
        for entry in os.scandir(self.reports):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)


def _new_workspace(root: Path, scenario_dir: Path, digest: str | None) -> Workspace:
    workspace = Workspace(root, scenario_dir, root / "home", root / "tmp", root / "reports", digest)
    for folder in (workspace.home, workspace.tmp, workspace.reports):
        folder.mkdir()
    return workspace


@contextmanager
def prepare_workspace(
    source_dir: Path, execution_id: UUID | str, parent: Path | None = None
) -> Iterator[Workspace]:
    """Copy a scenario folder into a fresh folder; remove everything when the run ends."""
    root = Path(tempfile.mkdtemp(prefix=f"testgenie-{execution_id}-", dir=parent))
    try:
        scenario_dir = root / "scenario"
        shutil.copytree(source_dir, scenario_dir, symlinks=True, ignore=COPY_IGNORE)
        yield _new_workspace(root, scenario_dir, None)
    finally:
        remove_tree(root)


@contextmanager
def fresh_workspace(
    bundle: BundleRef,
    execution_id: UUID | str,
    *,
    scenario: str | None = None,
    cache: BundleCache | None = None,
    parent: Path | None = None,
) -> Iterator[Workspace]:
    """The runner's workspace: a fresh extraction of the bundle's digest-checked bytes, removed after.

    Raises UnsafeArchiveError or BundleFetchError (both ValidationErrors, with a message for users).
    """
    cache = cache or BundleCache()
    data = cache.archive(bundle)
    root = Path(tempfile.mkdtemp(prefix=f"testgenie-{execution_id}-", dir=parent))
    try:
        tree = root / "scenario"
        tree.mkdir()
        extract_bundle(data, tree, cache.limits)
        yield _new_workspace(root, bundle_root(tree, scenario), bundle.sha256)
    finally:
        remove_tree(root)


def _search_path(*entries: str) -> str:
    return os.pathsep.join(dict.fromkeys(entry for entry in entries if entry))


def command_environment(
    workspace: Workspace,
    execution_id: UUID | str,
    scenario_env: Mapping[str, str],
    service_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The only variables a scenario's commands see. Nothing else of the service leaks through
    (no DATABASE_URL, no AWS_* credentials): the environment is built, not filtered.

    The interpreter running the runner comes first on PATH, so `python` in a scenario is the
    runner's Python 3.13 with its toolchain; the scenario's vendored dependencies (from
    `testgenie push`) come first on PYTHONPATH, then the toolchain layer (docs/scenarios.md).
    """
    env = os.environ if service_env is None else service_env
    vendor = workspace.scenario_dir / VENDOR_RELPATH
    has_vendor = vendor.is_dir()
    path = _search_path(
        str(vendor / "bin") if has_vendor else "",
        os.path.dirname(sys.executable),
        *env.get("PATH", os.defpath).split(os.pathsep),
    )
    python_path = _search_path(
        str(vendor) if has_vendor else "", *env.get(TOOLCHAIN_PATH_ENV, "").split(os.pathsep)
    )
    return {
        "PATH": path,
        "LANG": env.get("LANG") or "C.UTF-8",
        "HOME": str(workspace.home),
        "TMPDIR": str(workspace.tmp),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **({"PYTHONPATH": python_path} if python_path else {}),
        **scenario_env,
        "TESTGENIE_SCENARIO_DIR": str(workspace.scenario_dir),
        "TESTGENIE_EXECUTION_ID": str(execution_id),
    }
