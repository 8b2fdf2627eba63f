"""examples/network/template.yaml: what an empty account lacks, with outputs that feed the main stack
(docs/deploying.md, "The network and the database")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract.cfn_eval import Evaluated
from tests.support.cloudformation import CfnLoader, cfn_lint
from tests.support.paths import REPO_ROOT

COMPANION = REPO_ROOT / "examples" / "network" / "template.yaml"
# What the main stack's parameters receive from the companion's outputs (test_network.py's shapes).
FED = {
    "VpcId": "vpc-0test",
    "SubnetIds": "subnet-0a,subnet-0b",
    "PrivateRouteTableIds": "rtb-0a,rtb-0b",
    "SecurityGroupIds": "sg-0database",
    "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
}


@pytest.fixture(scope="module")
def companion() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(COMPANION.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _ref(logical: str) -> dict[str, str]:
    return {"Ref": logical}


def test_cfn_lint_is_clean_on_the_companion() -> None:
    out = cfn_lint(COMPANION)
    assert out.returncode == 0, out.stdout + out.stderr


def test_its_outputs_are_the_main_stacks_network_and_database_parameters(
    companion: dict[str, Any], template: dict[str, Any], translated: dict[str, Any]
) -> None:
    outputs = companion["Outputs"]
    assert set(outputs) == set(FED)
    assert set(outputs) <= set(template["Parameters"])  # `make deploy` passes them on by name
    resources = companion["Resources"]

    def kinds(value: Any) -> list[str]:
        refs = value["Fn::Join"][1] if "Fn::Join" in value else [value]
        return [resources[r["Ref"]]["Type"] for r in refs]

    assert kinds(outputs["VpcId"]["Value"]) == ["AWS::EC2::VPC"]
    assert kinds(outputs["SubnetIds"]["Value"]) == ["AWS::EC2::Subnet"] * 2
    assert kinds(outputs["PrivateRouteTableIds"]["Value"]) == ["AWS::EC2::RouteTable"] * 2
    assert kinds(outputs["SecurityGroupIds"]["Value"]) == ["AWS::EC2::SecurityGroup"]
    assert kinds(outputs["DatabaseSecretArn"]["Value"]) == ["AWS::SecretsManager::SecretTargetAttachment"]
    # Fed those values, the main stack puts its functions in the subnets and adds its endpoints.
    stack = Evaluated(translated, FED)
    assert stack.of_type("AWS::EC2::VPCEndpoint")
    attached = [
        v["Properties"]["VpcConfig"]
        for v in stack.of_type("AWS::Lambda::Function").values()
        if "VpcConfig" in v["Properties"]
    ]
    assert attached
    assert all(config["SubnetIds"] == ["subnet-0a", "subnet-0b"] for config in attached)


def test_the_subnets_are_private_one_per_zone_each_with_its_route_table(companion: dict[str, Any]) -> None:
    subnets = _of_type(companion, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    zones = [s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in subnets.values()]
    assert sorted(zones) == [0, 1]  # two Availability Zones
    associations = {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in _of_type(companion, "AWS::EC2::SubnetRouteTableAssociation").values()
    }
    assert set(associations) == set(subnets)
    assert set(associations.values()) == set(_of_type(companion, "AWS::EC2::RouteTable"))
    # No way out of the VPC: the main stack's endpoints are the functions' only route to AWS.
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::Route"):
        assert not _of_type(companion, kind), kind
    vpc = next(iter(_of_type(companion, "AWS::EC2::VPC").values()))["Properties"]
    assert (vpc["EnableDnsSupport"], vpc["EnableDnsHostnames"]) == (True, True)  # private DNS endpoints


def test_the_database_is_private_and_admits_the_functions_group_only(companion: dict[str, Any]) -> None:
    (database,) = _of_type(companion, "AWS::RDS::DBInstance").values()
    props = database["Properties"]
    assert props["Engine"] == "postgres"
    assert int(str(props["EngineVersion"]).split(".")[0]) >= 14  # docs/deploying.md: PostgreSQL >= 14
    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True
    (subnet_group,) = _of_type(companion, "AWS::RDS::DBSubnetGroup").values()
    assert sorted(r["Ref"] for r in subnet_group["Properties"]["SubnetIds"]) == sorted(
        _of_type(companion, "AWS::EC2::Subnet")
    )
    (group,) = props["VPCSecurityGroups"]
    ingress = companion["Resources"][group["Ref"]]["Properties"]["SecurityGroupIngress"]
    client = companion["Outputs"]["SecurityGroupIds"]["Value"]
    assert [(r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress] == [
        (5432, 5432, client)
    ]
    assert not _of_type(companion, "AWS::EC2::SecurityGroupIngress")
    # Deleted with its stack: `make teardown` leaves nothing behind.
    assert (database["DeletionPolicy"], database["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_the_secret_has_the_shape_the_service_reads(companion: dict[str, Any]) -> None:
    (secret_name,) = _of_type(companion, "AWS::SecretsManager::Secret")
    generate = companion["Resources"][secret_name]["Properties"]["GenerateSecretString"]
    shape = yaml.safe_load(generate["SecretStringTemplate"]["Fn::Sub"])
    assert set(shape) == {"username", "dbname"}
    assert generate["GenerateStringKey"] == "password"
    (attachment,) = _of_type(companion, "AWS::SecretsManager::SecretTargetAttachment").values()
    (database,) = _of_type(companion, "AWS::RDS::DBInstance")
    # The attachment writes the instance's host and port into the secret: with the generated fields
    # that is every key layers/core/testgenie/db.py requires (host, username, password).
    assert attachment["Properties"] == {
        "SecretId": _ref(secret_name),
        "TargetId": _ref(database),
        "TargetType": "AWS::RDS::DBInstance",
    }
    db = companion["Resources"][database]["Properties"]
    assert secret_name in db["MasterUsername"]["Fn::Sub"]
    assert secret_name in db["MasterUserPassword"]["Fn::Sub"]
    required = Path(REPO_ROOT / "layers/core/testgenie/db.py").read_text()
    assert '("host", "username", "password")' in required
