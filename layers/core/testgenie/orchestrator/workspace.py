"""Where scenarios come from (a folder, or S3 bundles) and the private copy each run works in.

S3 bundles are `<prefix>/<scenario>.tar.gz`, cached per ETag and extracted safely: absolute paths,
`..`, links that leave the folder, devices and FIFOs are refused before anything is written.
boto3 is imported lazily, only by S3ScenarioSource.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from testgenie.errors import ValidationError
from testgenie.observability import logger
from testgenie.orchestrator.planning import validate_scenario_name

if TYPE_CHECKING:
    from testgenie.settings import Settings

# Caches and VCS data are never part of a run's copy (they are large and make runs differ).
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
_MARKER = ".testgenie-extracted"


class UnsafeArchiveError(ValidationError):
    """A scenario bundle that tries to write outside its folder (or holds devices)."""


class ScenarioSource(Protocol):
    def locate(self, name: str) -> Path:
        """A folder holding the scenario (read it, never write it); ValidationError when unknown."""
        ...

    def describe(self) -> str: ...


class LocalScenarioSource:
    """Scenarios as folders under one root (a checkout, or an EFS mount in Lambda)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return str(self.root)

    def locate(self, name: str) -> Path:
        name = validate_scenario_name(name)
        path = self.root / name
        if not path.is_dir():
            raise scenario_not_found(name, self.describe())
        return path


def scenario_not_found(name: str, where: str) -> ValidationError:
    """The 400 names the scenario, never the service's folder or bucket (logged for operators)."""
    logger.info("scenario not found", extra={"scenario": name, "source": where})
    return ValidationError(f"scenario '{name}' was not found")


def _check_member(member: tarfile.TarInfo, dest: Path) -> None:
    name = member.name
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith(("/", "\\")) or ".." in pure.parts or ":" in pure.parts[0]:
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{name}' escapes the scenario folder")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{name}' is a device or FIFO")
    target = (dest / name).resolve()
    if not target.is_relative_to(dest):
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{name}' escapes the scenario folder")
    if member.issym() or member.islnk():
        link = PurePosixPath(member.linkname)
        base = (dest / name).parent if member.issym() else dest
        resolved = (base / member.linkname).resolve() if not link.is_absolute() else Path(link)
        if link.is_absolute() or not resolved.is_relative_to(dest):
            raise UnsafeArchiveError(
                f"unsafe scenario bundle: link '{name}' -> '{member.linkname}' points outside the scenario"
            )


def safe_extract(archive: Path, dest: Path) -> None:
    """Check every member first, then extract (with the stdlib's `data` filter as a second guard)."""
    dest = dest.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, dest)
            if sys.version_info >= (3, 12) or hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest, members=members)  # noqa: S202 - every member checked above
    except tarfile.TarError as exc:
        raise ValidationError(f"scenario bundle {archive.name} is not a readable .tar.gz: {exc}") from None


def _bundle_root(extracted: Path, name: str) -> Path:
    """Bundles made with `tar -C scenarios -czf x.tar.gz <name>` hold one top folder: use it."""
    entries = [p for p in extracted.iterdir() if p.name != _MARKER]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name == name:
        return entries[0]
    return extracted


class S3ScenarioSource:
    """Scenarios as `s3://<bucket>/<prefix>/<name>.tar.gz`, extracted once per ETag into a cache folder."""

    def __init__(
        self, bucket: str, prefix: str = "", cache_dir: Path | None = None, client: Any = None
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "testgenie" / "scenario-cache"
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only S3 sources need it

            self._client = boto3.client("s3")
        return self._client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}.tar.gz" if self.prefix else f"{name}.tar.gz"

    def locate(self, name: str) -> Path:
        from botocore.exceptions import ClientError

        name = validate_scenario_name(name)
        key = self.key(name)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                raise scenario_not_found(name, self.describe()) from None
            raise
        if int(head.get("ContentLength", 0)) > MAX_BUNDLE_BYTES:
            raise ValidationError(f"scenario bundle {key} is larger than {MAX_BUNDLE_BYTES} bytes")
        etag = str(head.get("ETag", "")).strip('"')
        digest = hashlib.sha256(etag.encode()).hexdigest()[:16]
        target = self.cache_dir / name / digest
        if (target / _MARKER).exists():
            return _bundle_root(target, name)
        with self._lock:
            if not (target / _MARKER).exists():
                self._download(name, key, etag, target)
        return _bundle_root(target, name)

    def _download(self, name: str, key: str, etag: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
        try:
            archive = staging / "bundle.tar.gz"
            # IfMatch: the bytes are those of the ETag the cache folder is named after.
            response = self.client.get_object(Bucket=self.bucket, Key=key, IfMatch=etag)
            with archive.open("wb") as handle:
                shutil.copyfileobj(response["Body"], handle)
            extracted = staging / "tree"
            extracted.mkdir()
            safe_extract(archive, extracted)
            (extracted / _MARKER).write_text(etag)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(extracted, target)
            # Older versions of this scenario are no longer needed.
            for old in target.parent.iterdir():
                if old != target and not old.name.startswith(".staging-"):
                    shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def scenario_source_from_settings(settings: Settings) -> ScenarioSource:
    """SCENARIOS_SOURCE: `s3://bucket/prefix` or a folder."""
    source = settings.scenarios_source.strip()
    if source.startswith("s3://"):
        bucket, _, prefix = source[len("s3://") :].partition("/")
        if not bucket:
            raise ValidationError(f"SCENARIOS_SOURCE '{source}' has no bucket")
        return S3ScenarioSource(bucket, prefix)
    return LocalScenarioSource(Path(source))


@dataclass(frozen=True)
class Workspace:
    """One run's private space: the scenario copy, HOME, TMPDIR and the JUnit reports folder."""

    root: Path
    scenario_dir: Path
    home: Path
    tmp: Path
    reports: Path

    def clear_reports(self) -> None:
        """Empty the reports folder between phases, so each phase reads only the reports it wrote."""
        for entry in os.scandir(self.reports):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)


@contextmanager
def prepare_workspace(
    source_dir: Path, execution_id: UUID | str, parent: Path | None = None
) -> Iterator[Workspace]:
    """Copy the scenario into a fresh folder; remove everything when the run ends."""
    root = Path(tempfile.mkdtemp(prefix=f"testgenie-{execution_id}-", dir=parent))
    try:
        scenario_dir = root / "scenario"
        shutil.copytree(source_dir, scenario_dir, symlinks=True, ignore=COPY_IGNORE)
        workspace = Workspace(root, scenario_dir, root / "home", root / "tmp", root / "reports")
        for folder in (workspace.home, workspace.tmp, workspace.reports):
            folder.mkdir()
        yield workspace
    finally:
        shutil.rmtree(root, ignore_errors=True)


def command_environment(
    workspace: Workspace,
    execution_id: UUID | str,
    scenario_env: Mapping[str, str],
    service_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The only variables a scenario's commands see. Nothing else of the service leaks through
    (no DATABASE_URL, no AWS_* credentials): the environment is built, not filtered.

    The interpreter running the service comes first on PATH so that `python` in a scenario means a
    Python with the same packages (pytest) as the orchestrator.
    """
    env = os.environ if service_env is None else service_env
    path = os.pathsep.join(
        dict.fromkeys([os.path.dirname(sys.executable), *env.get("PATH", os.defpath).split(os.pathsep)])
    )
    return {
        "PATH": path,
        "LANG": env.get("LANG") or "C.UTF-8",
        "HOME": str(workspace.home),
        "TMPDIR": str(workspace.tmp),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **scenario_env,
        "TESTGENIE_SCENARIO_DIR": str(workspace.scenario_dir),
        "TESTGENIE_EXECUTION_ID": str(execution_id),
    }
