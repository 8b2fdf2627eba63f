"""The local stack's signed log uploads live in local/: the core's folder store offers none."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

import pytest
from testgenie.artifacts import LocalArtifactStore, artifact_store_from_settings
from testgenie.errors import ConfigurationError
from testgenie.settings import Settings
from testgenie_local.uploads import SignedUploadStore, stack_artifact_store, upload_allowed

SECRET = "k" * 64


def _signed(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(split.query).items()}
    return unquote(split.path.removeprefix("/_artifacts/")), query["expires"], query["signature"]


def test_the_core_folder_store_offers_the_runner_no_upload(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no upload"):
        LocalArtifactStore(tmp_path).upload_target(uuid4(), "unit", 60)


def test_a_signed_target_allows_its_key_until_it_expires_and_nothing_else(tmp_path: Path) -> None:
    store = SignedUploadStore(tmp_path, "http://127.0.0.1:9/_artifacts", SECRET)
    target = store.upload_target(uuid4(), "unit", 60)
    key, expires, signature = _signed(target.url)

    assert key == target.key
    assert upload_allowed(SECRET, key, expires, signature)
    assert not upload_allowed(SECRET, key.replace("unit", "lint"), expires, signature)
    assert not upload_allowed("x" * 64, key, expires, signature)
    assert not upload_allowed(SECRET, key, expires, signature, now=int(expires) + 1)
    assert not upload_allowed(SECRET, key, "soon", signature)


def test_the_stack_signs_only_when_it_has_an_upload_route(tmp_path: Path) -> None:
    plain = Settings(artifacts_dir=tmp_path)
    signed = Settings(
        artifacts_dir=tmp_path, artifacts_upload_url="http://h/_artifacts", artifacts_upload_secret=SECRET
    )

    assert type(stack_artifact_store(plain)) is LocalArtifactStore
    assert isinstance(stack_artifact_store(signed), SignedUploadStore)
    assert type(artifact_store_from_settings(signed)) is LocalArtifactStore  # the core never signs
