"""The runner holds no keys, and only the coordinator may invoke it (docs/architecture.md, "The runner").

Checked on the translated template, so the policies SAM attaches by itself are included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.contract.cfn_eval import Evaluated
from tests.contract.test_network import NETWORK
from tests.contract.test_template import _statements

NO_VALUE = {"Ref": "AWS::NoValue"}
RUNNER_LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
# What the runner's own environment may carry: logging/metrics switches and its own toolchain path.
RUNNER_ENV_PREFIXES = ("POWERTOOLS_", "TESTGENIE_TOOLCHAIN_PATH")


def _resources(translated: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in translated["Resources"].items() if v["Type"] == kind}


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _role_statements(translated: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    """Inline policies of the role and every AWS::IAM::Policy attached to it."""
    yield from _statements(translated["Resources"][role]["Properties"].get("Policies", []))
    for policy in _resources(translated, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"].get("Roles", []):
            yield from _statements(policy["Properties"]["PolicyDocument"])


def test_runner_function_has_no_vpc_no_database_settings_and_its_own_role(translated: dict[str, Any]) -> None:
    props = translated["Resources"]["RunnerFunction"]["Properties"]
    assert props["Role"] == {"Fn::GetAtt": ["RunnerRole", "Arn"]}
    assert props.get("VpcConfig", NO_VALUE) == NO_VALUE
    assert props.get("TracingConfig", {}).get("Mode") == "PassThrough"  # Active would need X-Ray rights
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "RunnerLogGroup"}
    variables = props.get("Environment", {}).get("Variables", {})
    present = {key for key, value in variables.items() if value != NO_VALUE}
    assert present, "the runner's Powertools settings are expected"
    assert all(key.startswith(RUNNER_ENV_PREFIXES) for key in present), sorted(present)
    text = json.dumps(variables)
    for resource in ("DatabaseUrl", "DatabaseSecretArn", "ArtifactsBucket", "SuiteRequestQueue"):
        assert resource not in text
    assert not props.get("Events")
    # Deployed into the database's VPC, the stack still keeps the runner out of it.
    deployed = Evaluated(translated, NETWORK).resources["RunnerFunction"]["Properties"]
    assert deployed.get("VpcConfig") is None
    assert not {k for k in deployed["Environment"]["Variables"] if k.startswith("DATABASE_")}


def test_runner_role_may_write_its_own_log_group_and_nothing_else(translated: dict[str, Any]) -> None:
    role = translated["Resources"]["RunnerRole"]["Properties"]
    assert not role.get("ManagedPolicyArns"), "SAM or someone attached a managed policy to the runner"
    assert "PermissionsBoundary" not in role
    trust = list(_statements(role["AssumeRolePolicyDocument"]))
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    statements = list(_role_statements(translated, "RunnerRole"))
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(_actions(statement)) <= RUNNER_LOG_ACTIONS, statement
        assert statement["Resource"] == {"Fn::GetAtt": ["RunnerLogGroup", "Arn"]}, statement
    # Nothing else may take the role, and no other function runs with it.
    uses = [
        logical
        for logical, fn in _resources(translated, "AWS::Lambda::Function").items()
        if fn["Properties"]["Role"] == {"Fn::GetAtt": ["RunnerRole", "Arn"]}
    ]
    assert uses == ["RunnerFunction"]


def test_only_the_coordinator_may_invoke_the_runner_and_nothing_else_of_lambda(
    translated: dict[str, Any],
) -> None:
    roles = _resources(translated, "AWS::IAM::Role")
    lambda_grants: dict[str, list[dict[str, Any]]] = {}
    for logical in roles:
        for statement in _role_statements(translated, logical):
            if any(a == "*" or a.lower().startswith("lambda:") for a in _actions(statement)):
                lambda_grants.setdefault(logical, []).append(statement)
    grant, durable = lambda_grants.pop("ExecuteFunctionRole")
    assert _actions(grant) == ["lambda:InvokeFunction"]
    assert grant["Resource"] == {"Fn::GetAtt": ["RunnerFunction", "Arn"]}
    # ExecuteFunction starts and stops durable executions of the coordinator, and of nothing else.
    assert all("-coordinator" in json.dumps(r) for r in durable["Resource"]), durable
    # The coordinator checkpoints its own executions and invokes the runner, nothing else of Lambda.
    checkpoints, invoke = lambda_grants.pop("CoordinatorRole")
    assert sorted(_actions(checkpoints)) == [
        "lambda:CheckpointDurableExecution",
        "lambda:GetDurableExecutionState",
    ]
    assert "-coordinator:*" in json.dumps(checkpoints["Resource"])
    assert _actions(invoke) == ["lambda:InvokeFunction"]
    assert all("RunnerFunction" in json.dumps(r) for r in invoke["Resource"]), invoke
    # The schedules' roles invoke ExecuteFunction, never the runner.
    for logical, grants in lambda_grants.items():
        for statement in grants:
            assert statement["Resource"] == {"Fn::GetAtt": ["ExecuteFunction", "Arn"]}, (logical, statement)
    # No resource policy lets anything else (an API route, a schedule) invoke the runner.
    permissions = _resources(translated, "AWS::Lambda::Permission").values()
    assert not [p for p in permissions if "RunnerFunction" in json.dumps(p["Properties"]["FunctionName"])]


def test_the_coordinator_knows_the_runner_and_waits_long_enough(
    translated: dict[str, Any], template: dict[str, Any]
) -> None:
    functions = translated["Resources"]
    runner = functions["RunnerFunction"]["Properties"]
    variables = functions["ExecuteFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["RUNNER_FUNCTION_NAME"] == {"Ref": "RunnerFunction"}
    assert int(variables["RUNNER_TIMEOUT_SECONDS"]) == runner["Timeout"]
    # The longest phase the stack allows, plus the bundle fetch and log upload, fits the runner's Timeout.
    assert runner["Timeout"] >= template["Parameters"]["PhaseTimeoutSeconds"]["MaxValue"] + 30


def test_the_coordinator_consumes_its_two_queues_without_a_managed_sqs_policy(
    translated: dict[str, Any], template: dict[str, Any]
) -> None:
    role = translated["Resources"]["ExecuteFunctionRole"]["Properties"]
    managed = json.dumps(role.get("ManagedPolicyArns", []))
    assert "AWSLambdaSQSQueueExecutionRole" not in managed
    assert "AWSLambdaBasicExecutionRole" not in managed  # logs:* on every log group
    queues = [{"Fn::GetAtt": ["SuiteRequestQueue", "Arn"]}, {"Fn::GetAtt": ["SuiteRequestDLQ", "Arn"]}]
    receiving: list[Any] = []
    for statement in _role_statements(translated, "ExecuteFunctionRole"):
        if not any(a.startswith("sqs:") for a in _actions(statement)):
            continue
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert all(resource in queues for resource in resources), statement
        if "sqs:ReceiveMessage" in _actions(statement):
            receiving.extend(resources)
    assert receiving == queues, "both event sources, and only they, need ReceiveMessage"
    # A function with its own role ignores SAM `Policies`: a policy added there would silently not apply.
    assert "Policies" not in template["Resources"]["ExecuteFunction"]["Properties"]
    assert "Policies" not in template["Resources"]["RunnerFunction"]["Properties"]


def test_runner_function_gives_each_tenant_its_own_environments(translated: dict[str, Any]) -> None:
    props = translated["Resources"]["RunnerFunction"]["Properties"]
    assert props.get("TenancyConfig") == {"TenantIsolationMode": "PER_TENANT"}


def _resources_of(statement: dict[str, Any]) -> list[str]:
    resource = statement.get("Resource", [])
    return [json.dumps(r) for r in (resource if isinstance(resource, list) else [resource])]


def test_no_coordinator_may_write_a_scenario_bundle_or_the_buckets_settings(
    translated: dict[str, Any],
) -> None:
    for role in ("ExecuteFunctionRole", "CoordinatorRole"):
        writes = []
        for statement in _role_statements(translated, role):
            actions = [a for a in _actions(statement) if a.startswith("s3:")]
            assert not [
                a for a in actions if a in {"s3:PutObjectAcl", "s3:PutLifecycleConfiguration", "s3:*"}
            ]
            if any(a in {"s3:PutObject", "s3:DeleteObject"} for a in actions):
                writes.append(statement)
        assert writes, f"{role} must still write phase logs"
        for statement in writes:
            # Only under executions/ (phase logs): never scenarios/ or the whole bucket.
            assert all("/executions/*" in resource for resource in _resources_of(statement)), (
                role,
                statement,
            )
