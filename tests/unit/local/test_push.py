"""`testgenie push`: reproducible bundles with their digest, vendored Python test dependencies for the
runner's platform, and the running local stack's bucket whenever a local bucket is meant."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from testgenie.models_base import wire_names
from testgenie.orchestrator.planning.testing_config import TestingConfig
from testgenie.orchestrator.sources.bundles import bundle_digest
from testgenie_local.aws import LocalAws
from testgenie_local.bundle import (
    LAMBDA_TARGET,
    BundleError,
    build_bundle,
    local_target,
    push_scenario,
    upload_scenarios,
)
from testgenie_local.cli import main

NEEDS_PACKAGE = Path(__file__).resolve().parents[2] / "drills" / "scenarios" / "needs-package"


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return sorted(tar.getnames())


def _stack(tmp_path: Path, aws: LocalAws, bucket: str) -> Path:
    aws.s3().create_bucket(Bucket=bucket)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    state = {"aws_endpoint": aws.endpoint_url, "buckets": {"ArtifactsBucket": bucket}}
    (data_dir / "stack.json").write_text(json.dumps(state))
    return data_dir


def _scenario(folder: Path, config: str = "{}") -> Path:
    (folder / ".testgenie").mkdir(parents=True)
    (folder / ".testgenie" / "testing.json").write_text(config)
    (folder / "README.md").write_text("# s\n")
    return folder


def test_an_explicit_local_bucket_goes_to_the_local_stack_not_to_aws(
    tmp_path: Path, moto_server: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No credentials at all: before, `push --bucket <local bucket>` went to AWS (NoCredentialsError).
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    data_dir = _stack(tmp_path, moto_server, "local-artifacts")
    folder = _scenario(tmp_path / "scn")
    location = push_scenario(folder, "scn", "local-artifacts", "scenarios", data_dir)
    assert location == "s3://local-artifacts/scenarios/scn.tar.gz"
    head = moto_server.s3().head_object(Bucket="local-artifacts", Key="scenarios/scn.tar.gz")
    body = moto_server.s3().get_object(Bucket="local-artifacts", Key="scenarios/scn.tar.gz")["Body"].read()
    assert head["Metadata"]["sha256"] == bundle_digest(body)


def test_bundles_are_reproducible_and_refuse_a_broken_config(tmp_path: Path) -> None:
    folder = _scenario(tmp_path / "scn")
    first = build_bundle(folder)
    (folder / "README.md").touch()  # a new mtime, same bytes
    assert build_bundle(folder) == first
    (folder / ".testgenie" / "testing.json").write_text('{"python": {"requirements": "/etc/passwd"}}')
    with pytest.raises(BundleError, match=r"python\.requirements: '/etc/passwd' must be a path inside"):
        build_bundle(folder)
    (folder / ".testgenie" / "testing.json").write_text('{"python": {"requirements": "missing.txt"}}')
    with pytest.raises(BundleError, match=r"'missing\.txt', which is not a file"):
        build_bundle(folder)


def test_declared_packages_are_vendored_for_the_lambda_runner(tmp_path: Path) -> None:
    names = _names(build_bundle(NEEDS_PACKAGE, LAMBDA_TARGET))
    assert ".testgenie/vendor/python/inflection/__init__.py" in names
    assert "tests/test_inflection.py" in names
    # Only the files: the scenario alone, when nothing is resolved.
    assert not any(name.startswith(".testgenie/vendor") for name in _names(build_bundle(NEEDS_PACKAGE, None)))


def test_a_package_without_a_wheel_for_the_runner_is_refused_by_name(tmp_path: Path) -> None:
    folder = _scenario(tmp_path / "scn", '{"python": {"requirements": "req.txt"}}')
    (folder / "req.txt").write_text("testgenie-no-such-package-xyz==1.0\n")
    with pytest.raises(
        BundleError, match=r"cannot vendor req\.txt for Python 3\.13 on manylinux2014_aarch64"
    ):
        build_bundle(folder, LAMBDA_TARGET)


def test_the_stack_start_uploads_every_scenario_folder(tmp_path: Path, moto_server: LocalAws) -> None:
    moto_server.s3().create_bucket(Bucket="start-bucket")
    root = tmp_path / "scenarios"
    _scenario(root / "one")
    _scenario(root / "two")
    (root / "not-a-scenario").mkdir()
    names = upload_scenarios(root, moto_server.s3(), "start-bucket", "scenarios", local_target())
    assert names == ["one", "two"]
    keys = moto_server.s3().list_objects_v2(Bucket="start-bucket")["Contents"]
    assert sorted(item["Key"] for item in keys) == ["scenarios/one.tar.gz", "scenarios/two.tar.gz"]


def test_push_names_a_testing_json_key_that_no_setting_reads(
    tmp_path: Path, moto_server: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = _stack(tmp_path, moto_server, "local-artifacts")
    folder = _scenario(tmp_path / "scn", '{"phases": {"unit": {"tmeout": 30}}, "eslint": {}}')
    args = [
        "push",
        str(folder),
        "--scenario",
        "scn",
        "--bucket",
        "local-artifacts",
        "--data-dir",
        str(data_dir),
    ]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "pushed" in printed.out
    assert printed.err.splitlines() == [
        "warning: .testgenie/testing.json: unknown key 'phases.unit.tmeout' was ignored (did you mean 'timeout'?)",
        "warning: .testgenie/testing.json: unknown key 'eslint' was ignored (known keys: "
        + ", ".join(sorted(wire_names(TestingConfig)))
        + ")",
    ]
