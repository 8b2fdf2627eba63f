"""Scenarios as S3 bundles; boto3 is imported lazily, only here."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testgenie.errors import TransientError, ValidationError
from testgenie.orchestrator.planning.plan import validate_scenario_name
from testgenie.orchestrator.sources.base import (
    DIGEST_METADATA,
    MARKER,
    MAX_BUNDLE_BYTES,
    bundle_root,
    scenario_not_found,
)
from testgenie.orchestrator.sources.bundles import (
    DEFAULT_LIMITS,
    SHA256_RE,
    BundleLimits,
    BundleRef,
    bundle_digest,
    extract_bundle,
)
from testgenie.orchestrator.sources.tar_scan import scan

if TYPE_CHECKING:
    pass


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
    # As bundle_root: a bundle of one top folder (`tar -C scenarios -czf x.tar.gz <name>`) is that folder.
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
        """The scenarios in the bucket: the `<prefix>/<name>.tar.gz` keys of one listing page (at most
        `limit`); TransientError when the bucket cannot be listed."""
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = f"{self.prefix}/" if self.prefix else ""
        try:
            # Delimiter: keys in deeper folders are not bundles and must not use up the page.
            page = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/", MaxKeys=limit
            )
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"cannot list the scenario bundles in {self.describe()}: {exc}") from exc
        keys = [str(item.get("Key", "")) for item in page.get("Contents") or []]
        return sorted(
            key[len(prefix) : -len(".tar.gz")]
            for key in keys
            if key.endswith(".tar.gz") and "/" not in key[len(prefix) :]
        )

    def _known(self) -> list[str]:
        """The names for a "did you mean" after a miss; none when the bucket cannot be listed."""
        try:
            return self.names()
        except TransientError:
            return []

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}.tar.gz" if self.prefix else f"{name}.tar.gz"

    def _head(self, name: str) -> tuple[str, dict[str, Any]]:
        from botocore.exceptions import ClientError

        key = self.key(validate_scenario_name(name))
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                raise scenario_not_found(name, self.describe(), self._known()) from None
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
        if (target / MARKER).exists():
            return bundle_root(target, name)
        with self._lock:
            if not (target / MARKER).exists():
                self._download(key, etag, target)
        return bundle_root(target, name)

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
            (extracted / MARKER).write_text(etag)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(extracted, target)
            # Older versions of this scenario are no longer needed.
            for old in target.parent.iterdir():
                if old != target and not old.name.startswith(".staging-"):
                    shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
