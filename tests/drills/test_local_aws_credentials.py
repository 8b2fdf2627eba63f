"""Drills: the local AWS checks credentials and the template's policies as AWS does.

- Made-up keys (a SigV4 request signed with keys nobody issued) can neither read nor overwrite a
  scenario bundle in the local S3, nor send to the local SQS queue.
- Each function calls with its role's keys: with a statement removed from template.yaml, the call
  it allowed is refused locally, as on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from testgenie_local.aws import LocalAws, create_resources, start_moto
from testgenie_local.identities import STACK_USER, enforce, function_statements, provision
from testgenie_local.template import Resolver, load_yaml, read_template

from tests.support.paths import REPO_ROOT

TEMPLATE = REPO_ROOT / "template.yaml"
MADE_UP = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


def _local_aws(template_path: Path) -> tuple[LocalAws, dict[str, Any]]:
    """moto with the template's resources, its functions' users, and access control on."""
    template = read_template(template_path)
    aws = start_moto()
    create_resources(aws, template)
    attrs = {f"{logical}.Arn": arn for logical, arn in aws.queue_arns.items()}
    attrs.update({f"{logical}.Arn": f"arn:aws:s3:::{name}" for logical, name in aws.bucket_names.items()})
    resolver = Resolver(
        template.parameters,
        refs={**aws.queue_urls, **aws.bucket_names},
        attrs=attrs,
        region=aws.region,
        conditions=template.conditions,
        mappings=template.mappings,
    )
    statements = function_statements(load_yaml(template_path.read_text())["Resources"], resolver)
    keys = provision(aws.client("iam"), statements, aws.bucket_names.values())
    bucket = next(iter(aws.bucket_names.values()))
    aws.s3().put_object(Bucket=bucket, Key="scenarios/hello-python.tar.gz", Body=b"genuine")
    enforce(aws.endpoint_url)
    aws.use_keys(keys[STACK_USER])  # the stack's own calls, from now on
    return aws, {"keys": keys, "bucket": bucket, "queue": aws.queue_urls["SuiteRequestQueue"]}


@pytest.fixture
def local_aws() -> Iterator[tuple[LocalAws, dict[str, Any]]]:
    aws, found = _local_aws(TEMPLATE)
    yield aws, found
    aws.stop()


def _client(aws: LocalAws, service: str, **keys: str) -> Any:
    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name=aws.region, **keys)  # type: ignore[call-overload]


def _refused(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def test_made_up_keys_can_neither_read_nor_overwrite_a_bundle_nor_queue(
    local_aws: tuple[LocalAws, dict[str, Any]],
) -> None:
    aws, found = local_aws
    s3, sqs = _client(aws, "s3", **MADE_UP), _client(aws, "sqs", **MADE_UP)
    key = "scenarios/hello-python.tar.gz"
    assert _refused(lambda: s3.get_object(Bucket=found["bucket"], Key=key)) == "InvalidAccessKeyId"
    assert (
        _refused(lambda: s3.put_object(Bucket=found["bucket"], Key=key, Body=b"evil")) == "InvalidAccessKeyId"
    )
    assert _refused(lambda: sqs.send_message(QueueUrl=found["queue"], MessageBody="{}")) in {
        "403",
        "InvalidClientTokenId",
    }
    assert aws.s3().get_object(Bucket=found["bucket"], Key=key)["Body"].read() == b"genuine"


def _as(aws: LocalAws, found: dict[str, Any], function: str, service: str) -> Any:
    keys = found["keys"][function]
    return aws.client(service, keys)


def test_each_function_may_do_what_its_role_allows_and_nothing_more(
    local_aws: tuple[LocalAws, dict[str, Any]],
) -> None:
    aws, found = local_aws
    execute_s3 = _as(aws, found, "ExecuteFunction", "s3")
    assert execute_s3.get_object(Bucket=found["bucket"], Key="scenarios/hello-python.tar.gz")["Body"].read()
    execute_s3.put_object(Bucket=found["bucket"], Key="executions/x/lint.log", Body=b"log")  # its logs
    # Never a scenario bundle (template.yaml: phase logs only).
    denied = _refused(
        lambda: execute_s3.put_object(Bucket=found["bucket"], Key="scenarios/hello-python.tar.gz", Body=b"x")
    )
    assert denied == "AccessDenied"
    _as(aws, found, "ExecuteFunction", "sqs").send_message(QueueUrl=found["queue"], MessageBody="{}")
    # The history function reads; it never publishes.
    assert _refused(
        lambda: _as(aws, found, "HistoryFunction", "sqs").send_message(
            QueueUrl=found["queue"], MessageBody="{}"
        )
    )
    # The runner's role holds nothing but its log group.
    assert (
        _refused(
            lambda: _as(aws, found, "RunnerFunction", "s3").get_object(
                Bucket=found["bucket"], Key="scenarios/hello-python.tar.gz"
            )
        )
        == "AccessDenied"
    )


def test_a_permission_missing_from_the_template_fails_locally(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    removed = text.replace(
        "                  - sqs:SendMessage\n                  - sqs:ChangeMessageVisibility\n",
        "                  - sqs:ChangeMessageVisibility\n",
        1,
    )
    assert removed != text, "the ExecuteFunctionRole statement that allows sqs:SendMessage moved"
    variant = tmp_path / "template.yaml"
    variant.write_text(removed)
    for folder in ("functions", "layers"):
        (tmp_path / folder).symlink_to(REPO_ROOT / folder)
    aws, found = _local_aws(variant)
    try:
        send = _as(aws, found, "ExecuteFunction", "sqs")
        assert _refused(lambda: send.send_message(QueueUrl=found["queue"], MessageBody="{}")) in {
            "403",
            "AccessDenied",
        }
    finally:
        aws.stop()
