"""Phase logs: a local folder on one machine, S3 in AWS. Keys are `executions/<id>/<phase>.log`.

boto3 is imported only inside S3ArtifactStore, so the history function and tests that use the local
store never load it; boto3 honours AWS_ENDPOINT_URL by itself (the local stack's moto server).

The runner writes its phase logs itself, through an upload target the coordinator signs: a
pre-signed S3 PUT (on one machine, the local stack's store signs a PUT to its own upload route:
testgenie_local/uploads.py), so a scenario can write its own execution's log and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from pydantic import Field

from testgenie.errors import ConfigurationError
from testgenie.models_base import CamelModel

if TYPE_CHECKING:
    from testgenie.settings import Settings

LOG_CONTENT_TYPE = "text/plain; charset=utf-8"

# A phase's log, or one shard's ("unit.shard-3": a dot no phase name has, so the two never collide).
_PHASE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.shard-[0-9]{1,4})?$")
_LOG_KEY_RE = re.compile(r"^executions/[0-9a-f-]{36}/[a-z0-9][a-z0-9_-]*(\.shard-[0-9]{1,4})?\.log$")
DEFAULT_LOCAL_DIR = Path(tempfile.gettempdir()) / "testgenie" / "artifacts"


class UploadTarget(CamelModel):
    """A pre-signed PUT: the runner sends the bytes with exactly these headers."""

    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    key: str = Field(min_length=1)  # the logPath the object will have


def log_key(execution_id: UUID | str, phase: str) -> str:
    """The logPath of a phase; refuses anything that could leave `executions/<id>/`."""
    execution = str(UUID(str(execution_id)))  # ValueError when not a UUID
    if not _PHASE_RE.match(phase):
        raise ValueError(f"invalid phase name for a log: {phase!r}")
    return f"executions/{execution}/{phase}.log"


def _safe_key(execution_id: UUID | str, phase: str) -> str | None:
    try:
        return log_key(execution_id, phase)
    except ValueError:
        return None


def _decode_tail(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ArtifactStore(Protocol):
    def put_log(self, execution_id: UUID | str, phase: str, data: bytes) -> str:
        """Store a phase log; return its logPath."""
        ...

    def read_log(self, execution_id: UUID | str, phase: str, tail_bytes: int) -> str | None:
        """The last `tail_bytes` of a phase log, or None when there is none."""
        ...

    def delete_logs(self, keys: list[str]) -> None:
        """Remove these logPaths (retention); missing ones are fine."""
        ...

    def upload_target(self, execution_id: UUID | str, phase: str, expires_seconds: int) -> UploadTarget:
        """Where the runner PUTs this phase's log (ConfigurationError when the store offers none)."""
        ...


class LocalArtifactStore:
    """Logs in a folder. It offers the runner no upload of its own: the local stack's store
    (testgenie_local/uploads.py) adds its signed upload route."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._last_dir: Path | None = None  # a run writes its phases in turn: one mkdir per execution

    def upload_target(self, execution_id: UUID | str, phase: str, expires_seconds: int) -> UploadTarget:
        raise ConfigurationError(
            "ARTIFACTS_DIR offers the runner no upload: use ARTIFACTS_BUCKET "
            "(on one machine the local stack signs its own uploads)"
        )

    def put_log(self, execution_id: UUID | str, phase: str, data: bytes) -> str:
        key = log_key(execution_id, phase)
        path = self.root / key
        if path.parent != self._last_dir:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._last_dir = path.parent
        # Write then rename: a reader never sees half a log.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the service's alone
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return key

    def read_log(self, execution_id: UUID | str, phase: str, tail_bytes: int) -> str | None:
        key = _safe_key(execution_id, phase)
        if key is None:
            return None
        try:
            with (self.root / key).open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - max(0, tail_bytes)))
                return _decode_tail(handle.read())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def delete_logs(self, keys: list[str]) -> None:
        for key in keys:
            if not _LOG_KEY_RE.match(key):
                continue  # only what log_key writes, never a path out of the folder
            path = self.root / key
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # the execution's folder, once empty
                path.parent.rmdir()


class S3ArtifactStore:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only the S3 path needs it

            self._client = boto3.client("s3")
        return self._client

    def put_log(self, execution_id: UUID | str, phase: str, data: bytes) -> str:
        key = log_key(execution_id, phase)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=LOG_CONTENT_TYPE)
        return key

    def upload_target(self, execution_id: UUID | str, phase: str, expires_seconds: int) -> UploadTarget:
        key = log_key(execution_id, phase)
        url = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": LOG_CONTENT_TYPE},
            ExpiresIn=expires_seconds,
        )
        return UploadTarget(url=url, headers={"Content-Type": LOG_CONTENT_TYPE}, key=key)

    def read_log(self, execution_id: UUID | str, phase: str, tail_bytes: int) -> str | None:
        from botocore.exceptions import ClientError

        key = _safe_key(execution_id, phase)
        if key is None:
            return None
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=-{tail_bytes}")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                return None
            if code == "InvalidRange":  # an empty object has no last N bytes
                return ""
            raise
        body: bytes = response["Body"].read()
        return _decode_tail(body[-tail_bytes:] if tail_bytes > 0 else b"")

    def delete_logs(self, keys: list[str]) -> None:
        valid = [key for key in keys if _LOG_KEY_RE.match(key)]
        for start in range(0, len(valid), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = valid[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
            )


def artifact_store_from_settings(settings: Settings) -> ArtifactStore:
    """ARTIFACTS_BUCKET -> S3; else ARTIFACTS_DIR; else a folder under the system temp dir."""
    if settings.artifacts_bucket:
        return S3ArtifactStore(settings.artifacts_bucket)
    return LocalArtifactStore(settings.artifacts_dir or DEFAULT_LOCAL_DIR)
