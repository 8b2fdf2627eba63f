"""Where scenarios come from (a folder, or S3 bundles) and the private copy each run works in.

The coordinator plans from a source's folder (`locate`) and hands the runner a BundleRef
(`bundle`): a URL and the sha256 digest of the archive. The runner makes every run's workspace
from a fresh, checked extraction of those bytes (`fresh_workspace`); nothing mutable is shared
between runs. boto3 is imported lazily, only by S3ScenarioSource.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from testgenie.errors import ScenarioNotFoundError, ValidationError
from testgenie.observability import logger
from testgenie.orchestrator.planning.plan import validate_scenario_name
from testgenie.orchestrator.sources.bundles import (
    DEFAULT_LIMITS,
    MAX_ARCHIVE_BYTES,
    SHA256_RE,
    BundleCache,
    BundleLimits,
    BundleRef,
    UnsafeArchiveError,
    bundle_digest,
    extract_bundle,
    pack_folder,
    remove_tree,
)
from testgenie.orchestrator.tar_scan import scan
from testgenie.suggest import did_you_mean

if TYPE_CHECKING:
    from testgenie.settings import Settings

__all__ = ["UnsafeArchiveError"]

# Caches and VCS data are never part of a run's copy (they are large and make runs differ).
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
MAX_BUNDLE_BYTES = MAX_ARCHIVE_BYTES
# Where `testgenie push` puts a scenario's declared Python test dependencies inside its bundle.
VENDOR_RELPATH = ".testgenie/vendor/python"
# The runner's toolchain (pytest and plugins) when it is not installed next to the runner's own
# interpreter: /opt/python on Lambda (the ToolchainLayer).
TOOLCHAIN_PATH_ENV = "TESTGENIE_TOOLCHAIN_PATH"
_MARKER = ".testgenie-extracted"
# S3 object metadata `testgenie push` writes: the sha256 of the bundle (x-amz-meta-sha256).
DIGEST_METADATA = "sha256"


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

    def describe(self) -> str: ...


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


def scenario_not_found(name: str, where: str, known: list[str]) -> ScenarioNotFoundError:
    """The 400 names the scenario and the closest known one, never the service's folder or bucket
    (logged for operators)."""
    logger.info("scenario not found", extra={"scenario": name, "source": where})
    return ScenarioNotFoundError(f"scenario '{name}' was not found{did_you_mean(name, known)}", name)


def safe_extract(archive: Path, dest: Path, limits: BundleLimits = DEFAULT_LIMITS) -> None:
    """Extract a bundle file into an empty folder (see bundles.extract_bundle for what is refused)."""
    if archive.stat().st_size > limits.archive_bytes:
        raise ValidationError(f"scenario bundle {archive.name} is larger than {limits.archive_bytes} bytes")
    extract_bundle(archive.read_bytes(), dest, limits)


def _bundle_root(extracted: Path, name: str | None) -> Path:
    """Bundles made with `tar -C scenarios -czf x.tar.gz <name>` hold one top folder: use it."""
    entries = [p for p in extracted.iterdir() if p.name != _MARKER]
    if len(entries) == 1 and entries[0].is_dir():
        top = entries[0]
        if top.name == name or (top / ".testgenie" / "testing.json").is_file():
            return top
    return extracted


_PLANNING_FILE_RE = re.compile(r"^(?:[^/]+/)?\.testgenie/(?:testing\.json|phases/test-[^/]+\.sh)$")


def write_planning_files(data: bytes, dest: Path, name: str, limits: BundleLimits = DEFAULT_LIMITS) -> None:
    """Only what planning reads (`.testgenie/testing.json`, `.testgenie/phases/test-*.sh`) into `dest`,
    found by the bounded header reader (tar_scan.py): the coordinator never hands a scenario's bytes
    to tarfile, and never writes more of them than these few small files."""
    found = scan(
        data,
        max_members=limits.members,
        max_expanded=limits.extracted_bytes,
        wanted=lambda path: bool(_PLANNING_FILE_RE.match(path)),
    )
    # As _bundle_root: a bundle of one top folder (`tar -C scenarios -czf x.tar.gz <name>`) is that folder.
    top = next(iter(found.roots)) if len(found.roots) == 1 else None
    prefix = f"{top}/" if top and (top == name or f"{top}/.testgenie/testing.json" in found.files) else ""
    for path, content in found.files.items():
        rel = path[len(prefix) :] if path.startswith(prefix) else ""
        if _PLANNING_FILE_RE.match(rel) and rel.startswith(".testgenie/"):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)


class S3ScenarioSource:
    """Scenarios as `s3://<bucket>/<prefix>/<name>.tar.gz`.

    `locate` extracts each digest once into a planning cache of the coordinator (which never runs
    scenario code); `bundle` pre-signs a GET for the runner. `planning_only` (what a coordinator
    uses): that cache holds only what planning reads, found without tarfile (write_planning_files).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        cache_dir: Path | None = None,
        client: Any = None,
        *,
        planning_only: bool = False,
    ) -> None:
        self.planning_only = planning_only
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "testgenie" / "scenario-cache"
        self._client = client
        self._lock = threading.Lock()
        self._digests: dict[tuple[str, str], str] = {}  # (key, ETag) -> digest, for unmarked objects

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only S3 sources need it

            self._client = boto3.client("s3")
        return self._client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def names(self, limit: int = 1000) -> list[str]:
        """The scenarios in the bucket (one listing page); [] when it cannot be listed. Only asked
        for a "did you mean" after a miss."""
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = f"{self.prefix}/" if self.prefix else ""
        try:
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=limit)
        except (BotoCoreError, ClientError):
            return []
        keys = [str(item.get("Key", "")) for item in page.get("Contents") or []]
        return sorted(
            key[len(prefix) : -len(".tar.gz")]
            for key in keys
            if key.endswith(".tar.gz") and "/" not in key[len(prefix) :]
        )

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}.tar.gz" if self.prefix else f"{name}.tar.gz"

    def _head(self, name: str) -> tuple[str, dict[str, Any]]:
        from botocore.exceptions import ClientError

        key = self.key(validate_scenario_name(name))
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                raise scenario_not_found(name, self.describe(), self.names()) from None
            raise
        if int(head.get("ContentLength", 0)) > MAX_BUNDLE_BYTES:
            raise ValidationError(f"scenario bundle {key} is larger than {MAX_BUNDLE_BYTES} bytes")
        return key, head

    def _get(self, key: str, etag: str) -> bytes:
        # IfMatch: the bytes are those of the ETag that was just looked at.
        response = self.client.get_object(Bucket=self.bucket, Key=key, IfMatch=etag)
        data: bytes = response["Body"].read(MAX_BUNDLE_BYTES + 1)
        if len(data) > MAX_BUNDLE_BYTES:
            raise ValidationError(f"scenario bundle {key} is larger than {MAX_BUNDLE_BYTES} bytes")
        return data

    def _digest(self, key: str, head: Mapping[str, Any]) -> str:
        """The digest `testgenie push` recorded; objects uploaded otherwise are hashed once per ETag."""
        marked = str((head.get("Metadata") or {}).get(DIGEST_METADATA, ""))
        if SHA256_RE.match(marked):
            return marked
        etag = str(head.get("ETag", "")).strip('"')
        if (key, etag) not in self._digests:
            self._digests[(key, etag)] = bundle_digest(self._get(key, etag))
        return self._digests[(key, etag)]

    def bundle(self, name: str, expires_in: int = 900) -> BundleRef:
        key, head = self._head(name)
        return self._ref(key, head, expires_in)

    def _ref(self, key: str, head: Mapping[str, Any], expires_in: int) -> BundleRef:
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return BundleRef(
            url=str(url), sha256=self._digest(key, head), size_bytes=int(head.get("ContentLength", 0))
        )

    def snapshot(self, name: str, expires_in: int = 900) -> tuple[BundleRef, Path]:
        """One HEAD for both (each is an S3 round trip): the folder is of the very object version
        (ETag) whose digest the runner checks."""
        key, head = self._head(name)
        return self._ref(key, head, expires_in), self._folder(name, key, head)

    def locate(self, name: str) -> Path:
        key, head = self._head(name)
        return self._folder(name, key, head)

    def _folder(self, name: str, key: str, head: Mapping[str, Any]) -> Path:
        etag = str(head.get("ETag", "")).strip('"')
        # One folder per object version (ETag); the planning copy is the coordinator's alone.
        target = self.cache_dir / name / hashlib.sha256(etag.encode()).hexdigest()[:16]
        if (target / _MARKER).exists():
            return _bundle_root(target, name)
        with self._lock:
            if not (target / _MARKER).exists():
                self._download(key, etag, target)
        return _bundle_root(target, name)

    def _download(self, key: str, etag: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
        try:
            data = self._get(key, etag)
            self._digests[(key, etag)] = bundle_digest(data)
            extracted = staging / "tree"
            extracted.mkdir()
            if self.planning_only:
                write_planning_files(data, extracted, key.rsplit("/", 1)[-1].removesuffix(".tar.gz"))
            else:
                extract_bundle(data, extracted)
            (extracted / _MARKER).write_text(etag)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(extracted, target)
            # Older versions of this scenario are no longer needed.
            for old in target.parent.iterdir():
                if old != target and not old.name.startswith(".staging-"):
                    shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


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
        yield _new_workspace(root, _bundle_root(tree, scenario), bundle.sha256)
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
