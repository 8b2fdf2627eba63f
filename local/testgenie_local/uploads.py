"""The local stack's log uploads: on AWS the runner PUTs a phase log to a pre-signed S3 URL; on one
machine it PUTs to the stack's own upload route (lambda_endpoint.py), signed the same way in spirit:
an HMAC over the key and an expiry, so a scenario can write its own execution's log and nothing else.

The coordinator's side is SignedUploadStore (the folder store plus signed upload targets), which the
stack hands to the services it builds; the route's side is upload_allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import quote, urlencode
from uuid import UUID

from testgenie.artifacts import (
    DEFAULT_LOCAL_DIR,
    LOG_CONTENT_TYPE,
    ArtifactStore,
    LocalArtifactStore,
    UploadTarget,
    artifact_store_from_settings,
    log_key,
)
from testgenie.settings import Settings


def upload_signature(secret: str, key: str, expires: int) -> str:
    """The local upload's signature: only this key, only until `expires` (epoch seconds)."""
    return hmac.new(secret.encode(), f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()


def upload_allowed(secret: str, key: str, expires: str, signature: str, now: float | None = None) -> bool:
    try:
        until = int(expires)
    except ValueError:
        return False
    if until < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(upload_signature(secret, key, until), signature)


class SignedUploadStore(LocalArtifactStore):
    """Logs in a folder, and upload targets on the stack's route signed with its secret."""

    def __init__(self, root: Path, upload_url: str, upload_secret: str) -> None:
        super().__init__(root)
        self.upload_url = upload_url.rstrip("/")
        self.upload_secret = upload_secret

    def upload_target(self, execution_id: UUID | str, phase: str, expires_seconds: int) -> UploadTarget:
        key = log_key(execution_id, phase)
        expires = int(time.time()) + expires_seconds
        query = urlencode(
            {"expires": expires, "signature": upload_signature(self.upload_secret, key, expires)}
        )
        return UploadTarget(
            url=f"{self.upload_url}/{quote(key)}?{query}", headers={"Content-Type": LOG_CONTENT_TYPE}, key=key
        )


def stack_artifact_store(settings: Settings) -> ArtifactStore:
    """The store of the stack's services: a bucket when one is set; else the folder with the
    stack's signed upload route (ARTIFACTS_UPLOAD_URL / ARTIFACTS_UPLOAD_SECRET) when it has one."""
    if settings.artifacts_bucket or not (settings.artifacts_upload_url and settings.artifacts_upload_secret):
        return artifact_store_from_settings(settings)
    return SignedUploadStore(
        settings.artifacts_dir or DEFAULT_LOCAL_DIR,
        settings.artifacts_upload_url,
        settings.artifacts_upload_secret,
    )
