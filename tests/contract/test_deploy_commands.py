"""`make deploy` and `make teardown` (docs/deploying.md) with stand-ins for the AWS CLI and SAM CLI
that answer like them and record each call, and deploy/empty_bucket.py against moto's S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.paths import REPO_ROOT

OUTPUTS = {
    "testgenie-network": {
        "VpcId": "vpc-0one",
        "SubnetIds": "subnet-0a,subnet-0b",
        "PrivateRouteTableIds": "rtb-0a,rtb-0b",
        "SecurityGroupIds": "sg-0client",
        "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC",
    },
    "testgenie": {"BucketName": "testgenie-artifactsbucket-0x"},
}
# The AWS CLI's answers to the calls the Makefile makes (its JMESPath queries, evaluated here).
FAKE_AWS = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["CALLS"], "a") as log:
    log.write(json.dumps(["aws", *args]) + "\\n")
outputs = json.loads(os.environ["OUTPUTS"])
if args[:2] == ["sts", "get-caller-identity"]:
    print("arn:aws:iam::123456789012:user/deployer")
elif args[:2] == ["cloudformation", "describe-stacks"]:
    stack = args[args.index("--stack-name") + 1]
    if stack not in outputs:
        sys.exit(255)
    query = args[args.index("--query") + 1] if "--query" in args else ""
    if "join(" in query:
        print("\\t".join(f"{{k}}={{v}}" for k, v in outputs[stack].items()))
    elif "OutputKey==" in query:
        print(outputs[stack].get(query.split("OutputKey=='")[1].split("'")[0], "None"))
"""
RECORDER = """#!{python}
import json, os, sys
with open(os.environ["CALLS"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
"""


def _make(tmp_path: Path, *targets: str, outputs: dict[str, Any]) -> list[list[str]]:
    bin_dir = tmp_path / "bin"
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS.format(python=sys.executable))
    for name in ("sam", "python"):
        (tools / "bin" / name).write_text(RECORDER.format(python=sys.executable))
    for path in [bin_dir / "aws", tools / "bin" / "sam", tools / "bin" / "python"]:
        path.chmod(0o755)
    calls = tmp_path / "calls.jsonl"
    calls.write_text("")
    env = {**os.environ, "CALLS": str(calls), "OUTPUTS": json.dumps(outputs)}
    done = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(REPO_ROOT),
            "-o",
            "build",
            f"AWS={bin_dir / 'aws'}",
            f"TOOLS={tools}",
            *targets,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in calls.read_text().splitlines()]


def test_deploy_creates_the_network_stack_then_passes_its_outputs_as_parameters(tmp_path: Path) -> None:
    calls = _make(tmp_path, "deploy", outputs=OUTPUTS)
    network = next(c for c in calls if c[:3] == ["aws", "cloudformation", "deploy"])
    assert network[network.index("--template-file") + 1] == "examples/network/template.yaml"
    assert network[network.index("--stack-name") + 1] == "testgenie-network"
    (deploy,) = [c for c in calls if c[:2] == ["sam", "deploy"]]
    assert calls.index(network) < calls.index(deploy)
    assert deploy[deploy.index("--config-file") + 1] == "samconfig.toml"
    assert deploy[deploy.index("--stack-name") + 1] == "testgenie"
    overrides = deploy[deploy.index("--parameter-overrides") + 1 :]
    assert overrides == [f"{k}={v}" for k, v in OUTPUTS["testgenie-network"].items()]


def test_deploy_with_a_network_of_your_own_passes_only_your_parameters(tmp_path: Path) -> None:
    calls = _make(
        tmp_path,
        "deploy",
        "NETWORK_STACK=",
        "DEPLOY_PARAMS=SubnetIds=subnet-0z DatabaseMaxConnections=40",
        outputs=OUTPUTS,
    )
    assert not [c for c in calls if c[:3] == ["aws", "cloudformation", "deploy"]]  # no network stack
    (deploy,) = [c for c in calls if c[:2] == ["sam", "deploy"]]
    assert deploy[deploy.index("--parameter-overrides") + 1 :] == [
        "SubnetIds=subnet-0z",
        "DatabaseMaxConnections=40",
    ]
    bare = _make(tmp_path / "bare", "deploy", "NETWORK_STACK=", outputs=OUTPUTS)
    (deploy,) = [c for c in bare if c[:2] == ["sam", "deploy"]]
    assert "--parameter-overrides" not in deploy  # nothing to override: the template's defaults


def test_teardown_empties_the_bucket_named_by_the_stack_then_deletes_both_stacks(tmp_path: Path) -> None:
    calls = _make(tmp_path, "teardown", outputs=OUTPUTS)
    steps = [c for c in calls if c[0] != "aws" or c[1:3] != ["cloudformation", "describe-stacks"]]
    assert steps[1:] == [
        ["python", "deploy/empty_bucket.py", "testgenie-artifactsbucket-0x"],
        ["sam", "delete", "--stack-name", "testgenie", "--no-prompts"],
        ["aws", "cloudformation", "delete-stack", "--stack-name", "testgenie-network"],
        ["aws", "cloudformation", "wait", "stack-delete-complete", "--stack-name", "testgenie-network"],
    ]
    # Run again once everything is gone: nothing to delete, and no error.
    again = _make(tmp_path / "again", "teardown", outputs={})
    assert [c for c in again if c[1:2] != ["cloudformation"] or c[2] != "describe-stacks"][1:] == []


def test_teardown_sam_removes_the_managed_bucket_and_stack(tmp_path: Path) -> None:
    managed = {
        "aws-sam-cli-managed-default": {"SourceBucket": "aws-sam-cli-managed-default-samclisourcebucket-0y"}
    }
    calls = _make(tmp_path, "teardown-sam", outputs=managed)
    steps = [c for c in calls if c[0] != "aws" or c[1:3] != ["cloudformation", "describe-stacks"]][1:]
    assert steps == [
        ["python", "deploy/empty_bucket.py", "aws-sam-cli-managed-default-samclisourcebucket-0y"],
        ["aws", "cloudformation", "delete-stack", "--stack-name", "aws-sam-cli-managed-default"],
        [
            "aws",
            "cloudformation",
            "wait",
            "stack-delete-complete",
            "--stack-name",
            "aws-sam-cli-managed-default",
        ],
    ]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def test_empty_bucket_deletes_every_version_so_the_bucket_can_go(s3: Any) -> None:
    sys.path.insert(0, str(REPO_ROOT / "deploy"))
    try:
        from empty_bucket import empty  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(REPO_ROOT / "deploy"))
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket="versioned", Key="scenarios/hello.tar.gz", Body=body)
    s3.delete_object(Bucket="versioned", Key="scenarios/hello.tar.gz")  # a delete marker
    with pytest.raises(s3.exceptions.ClientError, match="BucketNotEmpty"):
        s3.delete_bucket(Bucket="versioned")

    assert empty("versioned") == 4  # three versions and the marker
    assert "Versions" not in s3.list_object_versions(Bucket="versioned")
    s3.delete_bucket(Bucket="versioned")
