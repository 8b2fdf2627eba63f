"""Functions in private subnets reach every AWS API their code calls (docs/deploying.md, "Network").

The services are found by reading the code of each VPC-attached function (its CodeUri and its layers)
for boto3 clients, so a new `boto3.client("…")` in that code fails here until the template gives it
an endpoint and docs/deploying.md names it for the NAT path.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract.cfn_eval import Evaluated
from tests.support.cloudformation import cfn_lint, network_variant, sam_validate, translate
from tests.support.paths import REPO_ROOT

NETWORK = {
    "SubnetIds": "subnet-0a,subnet-0b",
    "SecurityGroupIds": "sg-0database",
    "VpcId": "vpc-0test",
    "PrivateRouteTableIds": "rtb-0a,rtb-0b",
    "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
}
# AWS calls that are not boto3 clients, each with the code that makes it (checked to still exist).
NON_BOTO3_CALLS = {
    "MigrateFunction": {
        "s3": (
            "layers/core/testgenie/migrate.py",
            'event["ResponseURL"]',  # the custom resource answers CloudFormation with a pre-signed S3 PUT
        )
    }
}
_CLIENT_FACTORIES = {"client", "resource", "create_client"}


def _source_dirs(sam: dict[str, Any], logical: str) -> list[Path]:
    """The code a function runs: its CodeUri and the ContentUri of each of its layers."""
    props = sam["Resources"][logical]["Properties"]
    layers = props.get("Layers", sam.get("Globals", {}).get("Function", {}).get("Layers", []))
    dirs = [REPO_ROOT / props["CodeUri"]]
    for layer in layers:
        name = layer["Ref"] if isinstance(layer, dict) else layer
        dirs.append(REPO_ROOT / sam["Resources"][name]["Properties"]["ContentUri"])
    return dirs


def boto3_services(dirs: list[Path]) -> dict[str, list[str]]:
    """service -> where a boto3 client or resource for it is created, in every module under `dirs`."""
    found: dict[str, list[str]] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _CLIENT_FACTORIES
                ):
                    continue
                where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
                if not node.args or not isinstance(node.args[0], ast.Constant):
                    if _mentions_aws_sdk(tree):
                        pytest.fail(f"{where}: an AWS client whose service is not a literal; name it")
                    continue
                if isinstance(node.args[0].value, str) and _mentions_aws_sdk(tree):
                    found.setdefault(node.args[0].value, []).append(where)
    return found


def _mentions_aws_sdk(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] in {"boto3", "botocore"} for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"boto3", "botocore"}:
            return True
    return False


def _vpc_functions(stack: Evaluated) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in stack.of_type("AWS::Lambda::Function").items() if "VpcConfig" in v["Properties"]}


def _services_by_function(sam: dict[str, Any], stack: Evaluated) -> dict[str, dict[str, list[str]]]:
    services: dict[str, dict[str, list[str]]] = {}
    for logical in _vpc_functions(stack):
        found = boto3_services(_source_dirs(sam, logical))
        for service, (path, marker) in NON_BOTO3_CALLS.get(logical, {}).items():
            assert marker in (REPO_ROOT / path).read_text(), f"{logical}: {path} no longer calls {service}"
            found.setdefault(service, []).append(path)
        services[logical] = found
    return services


def _endpoint_service(props: dict[str, Any]) -> str:
    name = props["ServiceName"]
    text = name["Fn::Sub"] if isinstance(name, dict) else name
    prefix = "com.amazonaws.${AWS::Region}."
    assert text.startswith(prefix), text
    return str(text[len(prefix) :])


def test_the_scan_finds_the_clients_the_code_creates(template: dict[str, Any]) -> None:
    found = boto3_services([REPO_ROOT / "layers/core"])
    assert {"s3", "sqs", "secretsmanager"} <= set(found)
    assert any(where.startswith("layers/core/testgenie/db.py") for where in found["secretsmanager"])


def test_with_network_parameters_every_service_the_vpc_functions_call_has_an_endpoint(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    stack = Evaluated(translated, NETWORK)
    assert {"ExecuteFunction", "HistoryFunction", "MigrateFunction"} <= set(_vpc_functions(stack))
    endpoints = {
        _endpoint_service(v["Properties"]): v["Properties"]
        for v in stack.of_type("AWS::EC2::VPCEndpoint").values()
    }
    subnets, tables = NETWORK["SubnetIds"].split(","), NETWORK["PrivateRouteTableIds"].split(",")
    for function, services in _services_by_function(template, stack).items():
        for service, where in services.items():
            assert service in endpoints, f"{function} calls {service} ({where[0]}) but no endpoint is created"
            endpoint = endpoints[service]
            if service == "s3":  # the gateway endpoint is free and needs no DNS
                assert endpoint["VpcEndpointType"] == "Gateway"
                assert endpoint["RouteTableIds"] == tables
            else:
                assert endpoint["VpcEndpointType"] == "Interface"
                assert endpoint["SubnetIds"] == subnets
                assert endpoint["PrivateDnsEnabled"] is True  # the SDK's default host names resolve to it
                assert endpoint["SecurityGroupIds"] == [{"Fn::GetAtt": ["EndpointSecurityGroup", "GroupId"]}]
            assert endpoint["VpcId"] == NETWORK["VpcId"]


def test_the_endpoint_security_group_admits_https_from_the_functions_only(translated: dict[str, Any]) -> None:
    stack = Evaluated(translated, NETWORK)
    group = stack.props("EndpointSecurityGroup")
    function_group = {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}
    assert group["SecurityGroupIngress"] == [
        {
            "Description": "HTTPS from the Test Genie functions",
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "SourceSecurityGroupId": function_group,
        }
    ]
    assert not stack.of_type("AWS::EC2::SecurityGroupIngress")  # no rule added from elsewhere
    assert [r["CidrIp"] for r in group["SecurityGroupEgress"]] == ["127.0.0.1/32"]
    # The admitted group is carried by exactly the VPC-attached functions, next to the database's group.
    carriers = {
        logical
        for logical, resource in stack.resources.items()
        if logical not in {"EndpointSecurityGroup", "FunctionSecurityGroup"}
        and _refers_to(resource, "FunctionSecurityGroup")
    }
    vpc = _vpc_functions(stack)
    assert carriers == set(vpc)
    for resource in vpc.values():
        groups = resource["Properties"]["VpcConfig"]["SecurityGroupIds"]
        assert groups == [function_group, NETWORK["SecurityGroupIds"]]


def _refers_to(node: Any, logical: str) -> bool:
    if isinstance(node, dict):
        if node.get("Ref") == logical or node.get("Fn::GetAtt", [None])[0] == logical:
            return True
        return any(_refers_to(v, logical) for v in node.values())
    if isinstance(node, list):
        return any(_refers_to(v, logical) for v in node)
    return False


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"VpcId": "vpc-0test", "PrivateRouteTableIds": "rtb-0a"},  # network facts alone attach nothing
        {**NETWORK, "CreateVpcEndpoints": "false"},
    ],
    ids=["defaults", "no-subnets", "endpoints-off"],
)
def test_without_the_network_parameters_nothing_of_the_network_is_created(
    translated: dict[str, Any], overrides: dict[str, str]
) -> None:
    stack = Evaluated(translated, overrides)
    assert not [k for k, v in stack.resources.items() if v["Type"].startswith("AWS::EC2::")]
    for logical, resource in stack.of_type("AWS::Lambda::Function").items():
        config = resource["Properties"].get("VpcConfig")
        if "SubnetIds" in overrides and logical != "RunnerFunction":  # the runner never joins the VPC
            assert config == {"SubnetIds": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0database"]}
        else:
            assert config is None


def test_the_nat_path_names_every_service_the_vpc_functions_call(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    """With CreateVpcEndpoints=false the subnets need a NAT gateway; the guide lists what must be reached."""
    guide = (REPO_ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    assert "NAT gateway" in guide
    stack = Evaluated(translated, {**NETWORK, "CreateVpcEndpoints": "false"})
    for function, services in _services_by_function(template, stack).items():
        for service in services:
            assert f"com.amazonaws.<region>.{service}" in guide, f"{function} calls {service}"


def test_endpoint_rules_refuse_a_half_given_network(template: dict[str, Any]) -> None:
    """CloudFormation Rules stop a deploy that asks for endpoints without the VPC or its route tables."""
    rules = template["Rules"]
    asserted = {
        ref
        for rule in rules.values()
        for assertion in rule["Assertions"]
        for ref in _refs(assertion["Assert"])
    }
    assert {"VpcId", "PrivateRouteTableIds", "SecurityGroupIds"} <= asserted
    assert all(a["AssertDescription"] for rule in rules.values() for a in rule["Assertions"])


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["Ref"]} if "Ref" in node else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_sam_validate_and_cfn_lint_are_clean_with_the_network_parameters(tmp_path: Path) -> None:
    """The linters take no parameter values, so they read a variant whose defaults are the network."""
    variant = network_variant(tmp_path / "template-network.json")
    out = sam_validate(variant)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is a valid SAM Template" in out.stdout + out.stderr
    out = cfn_lint(variant)
    assert out.returncode == 0, out.stdout + out.stderr
    translated = tmp_path / "translated-network.json"
    translated.write_text(json.dumps(translate(variant)))
    out = cfn_lint(translated)
    assert out.returncode == 0, out.stdout + out.stderr
