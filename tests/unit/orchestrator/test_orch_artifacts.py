"""The artifact store of phase logs: local folder and S3 (moto)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from moto import mock_aws
from testgenie.artifacts import (
    DEFAULT_LOCAL_DIR,
    LocalArtifactStore,
    S3ArtifactStore,
    artifact_store_from_settings,
    log_key,
)
from testgenie.settings import Settings

from tests.support.paths import REPO_ROOT


@pytest.fixture
def s3_store(clean_aws_env: None) -> Any:
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
        yield S3ArtifactStore("artifacts")  # its own client, created lazily like in Lambda


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    return request.getfixturevalue("s3_store")


def test_put_then_read_with_tail(store: Any) -> None:
    execution_id = uuid4()
    path = store.put_log(execution_id, "unit", b"first line\n" + b"x" * 100 + b"\nlast line\n")
    assert path == f"executions/{execution_id}/unit.log"
    assert store.read_log(execution_id, "unit", 10_000).startswith("first line")
    assert store.read_log(str(execution_id), "unit", 10) == "last line\n"
    store.put_log(execution_id, "unit", b"replaced")
    assert store.read_log(execution_id, "unit", 100) == "replaced"


def test_missing_and_invalid_logs_read_as_none(store: Any) -> None:
    execution_id = uuid4()
    assert store.read_log(execution_id, "unit", 100) is None
    assert store.read_log("not-a-uuid", "unit", 100) is None
    assert store.read_log(execution_id, "../../etc/passwd", 100) is None


def test_empty_log_and_invalid_utf8(store: Any) -> None:
    execution_id = uuid4()
    store.put_log(execution_id, "lint", b"")
    assert store.read_log(execution_id, "lint", 100) == ""
    store.put_log(execution_id, "docs", b"ok \xff\xfe end")
    assert store.read_log(execution_id, "docs", 100) == "ok \ufffd\ufffd end"


@pytest.mark.parametrize(
    ("execution_id", "phase"), [("nope", "unit"), (str(uuid4()), "../x"), (str(uuid4()), "Unit")]
)
def test_put_refuses_keys_that_could_escape(tmp_path: Path, execution_id: str, phase: str) -> None:
    with pytest.raises(ValueError):
        LocalArtifactStore(tmp_path).put_log(execution_id, phase, b"x")
    with pytest.raises(ValueError):
        log_key(execution_id, phase)


def test_store_from_settings(tmp_path: Path) -> None:
    s3_store = artifact_store_from_settings(Settings(artifacts_bucket="b"))
    assert isinstance(s3_store, S3ArtifactStore)
    assert s3_store.bucket == "b"
    local = artifact_store_from_settings(Settings(artifacts_dir=tmp_path))
    assert isinstance(local, LocalArtifactStore)
    assert local.root == tmp_path
    default = artifact_store_from_settings(Settings())
    assert isinstance(default, LocalArtifactStore)
    assert default.root == DEFAULT_LOCAL_DIR


def test_reading_logs_locally_does_not_import_boto3() -> None:
    code = (
        "import sys, uuid, tempfile, pathlib; from testgenie.artifacts import LocalArtifactStore;"
        "LocalArtifactStore(pathlib.Path(tempfile.mkdtemp())).read_log(uuid.uuid4(), 'unit', 10);"
        "print('boto3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": "layers/core"},
    )
    assert result.stdout.strip() == "False"
