"""template.yaml: translated and linted clean, and the invariants the service relies on (DESIGN §1, §6)."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cloudformation import cfn_lint, sam_validate, tools, tools_env
from tests.support.paths import REPO_ROOT, TEMPLATE
from tests.support.tools import missing_tool

EXPECTED_ROUTES = {
    "ExecuteFunction": {
        ("POST", "/api/v1/executions"),
        ("POST", "/api/v1/suite-requests"),
        ("POST", "/api/v1/suite-requests/{requestId}/cancel"),
        ("POST", "/api/v1/executions/{executionId}/rerun"),
        ("POST", "/api/v1/executions/{executionId}/pin"),
        ("DELETE", "/api/v1/executions/{executionId}/pin"),
        ("GET", "/api/v1/scenarios/available"),
    },
    "HistoryFunction": {
        ("GET", "/api/v1/executions"),
        ("GET", "/api/v1/executions/latest"),
        ("GET", "/api/v1/executions/{executionId}"),
        ("GET", "/api/v1/executions/{executionId}/phases/{phase}/log"),
        ("GET", "/api/v1/executions/{executionId}/compare"),
        ("GET", "/api/v1/scenarios"),
        ("GET", "/api/v1/scenarios/{name}/stats"),
        ("GET", "/api/v1/suite-requests"),
        ("GET", "/api/v1/suite-requests/{requestId}"),
        ("GET", "/api/v1/phases"),
        ("GET", "/api/v1/health"),
    },
}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _events(template: dict[str, Any], function: str, kind: str) -> dict[str, dict[str, Any]]:
    events = template["Resources"][function]["Properties"].get("Events", {})
    return {k: v["Properties"] for k, v in events.items() if v["Type"] == kind}


def test_logical_ids_handlers_and_code_locations(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert {
        "HttpApi",
        "ExecuteFunction",
        "HistoryFunction",
        "MigrateFunction",
        "CoreLayer",
        "SuiteRequestQueue",
        "SuiteRequestDLQ",
        "ArtifactsBucket",
    } <= set(resources)
    expected = {
        "ExecuteFunction": ("execute_app.lambda_handler", "functions/execute/"),
        "HistoryFunction": ("history_app.lambda_handler", "functions/history/"),
        "MigrateFunction": ("testgenie.migrate.custom_resource_handler", "migrations/"),
    }
    for logical, (handler, code) in expected.items():
        props = resources[logical]["Properties"]
        assert (props["Handler"], props["CodeUri"]) == (handler, code)
        assert (REPO_ROOT / code).is_dir()
        if logical != "MigrateFunction":
            module = handler.split(".")[0]
            assert (REPO_ROOT / code / f"{module}.py").is_file()
    custom = [r for r in resources.values() if r["Type"].startswith("Custom::")]
    assert [c["Properties"]["ServiceToken"] for c in custom] == [{"Fn::GetAtt": ["MigrateFunction", "Arn"]}]


def test_runtime_architecture_and_layer_build(template: dict[str, Any]) -> None:
    fn = template["Globals"]["Function"]
    assert (fn["Runtime"], fn["Architectures"]) == ("python3.13", ["arm64"])
    assert fn["Layers"] == [{"Ref": "CoreLayer"}]
    for props in (r["Properties"] for r in _resources(template, "AWS::Serverless::Function").values()):
        assert props.get("Runtime", "python3.13") == "python3.13"
        assert props.get("Architectures", ["arm64"]) == ["arm64"]
    layer = template["Resources"]["CoreLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/core"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert (REPO_ROOT / "layers/core/requirements.txt").is_file()
    assert "boto3" not in (REPO_ROOT / "layers/core/requirements.txt").read_text().split("\n", 1)[1]


def test_visibility_timeout_is_at_least_six_function_timeouts(template: dict[str, Any]) -> None:
    timeout = template["Resources"]["ExecuteFunction"]["Properties"]["Timeout"]
    for queue in ("SuiteRequestQueue", "SuiteRequestDLQ"):
        assert template["Resources"][queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_queue_encryption_redrive_and_event_source_mappings(template: dict[str, Any]) -> None:
    queue = template["Resources"]["SuiteRequestQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert template["Resources"]["SuiteRequestDLQ"]["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SuiteRequestDLQ", "Arn"]}
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    sources = _events(template, "ExecuteFunction", "SQS")
    assert {s["Queue"]["Fn::GetAtt"][0] for s in sources.values()} == {"SuiteRequestQueue", "SuiteRequestDLQ"}
    for source in sources.values():
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Its value per budget is checked in test_connection_budget.py.
        assert source["ScalingConfig"]["MaximumConcurrency"]["Fn::FindInMap"][0] == "ConnectionBudget"
        assert 1 <= source["BatchSize"] <= 10
        assert "MaximumBatchingWindowInSeconds" in source
    env = template["Resources"]["ExecuteFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SUITE_REQUEST_DLQ_ARN"] == {"Fn::GetAtt": ["SuiteRequestDLQ", "Arn"]}
    assert env["SUITE_REQUEST_QUEUE_URL"] == {"Ref": "SuiteRequestQueue"}
    assert env["LEASE_SECONDS"] > template["Resources"]["ExecuteFunction"]["Properties"]["Timeout"]


def test_http_api_is_iam_authorised_and_routes_match_the_handlers(template: dict[str, Any]) -> None:
    auth = template["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "AWS_IAM"
    for function, expected in EXPECTED_ROUTES.items():
        routes = _events(template, function, "HttpApi")
        assert {(r["Method"], r["Path"]) for r in routes.values()} == expected
        assert all(r["ApiId"] == {"Ref": "HttpApi"} and "Auth" not in r for r in routes.values())


_PARAM = re.compile(r"\{\w+\}")


def _resolver_routes(module: Any) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the handler's resolver serves, from its OpenAPI schema."""
    schema = module.app.get_openapi_schema()
    routes: set[tuple[str, str]] = set()
    for path, item in (schema.paths or {}).items():
        for method in ("get", "post", "put", "delete", "patch"):
            if getattr(item, method, None) is not None:
                routes.add((method.upper(), _PARAM.sub("{}", path)))
    return routes


@pytest.mark.parametrize(
    ("module_name", "function"), [("execute_app", "ExecuteFunction"), ("history_app", "HistoryFunction")]
)
def test_every_resolver_route_is_declared_in_the_template(
    template: dict[str, Any], module_name: str, function: str
) -> None:
    module = importlib.import_module(module_name)
    declared = {
        (r["Method"], _PARAM.sub("{}", r["Path"])) for r in _events(template, function, "HttpApi").values()
    }
    assert _resolver_routes(module) == declared


def test_artifacts_bucket_is_encrypted_private_and_expires_logs(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["ArtifactsBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any(r.get("Prefix") == "executions/" and "ExpirationInDays" in r for r in rules)


def test_schedules_reap_every_five_minutes_and_a_disabled_nightly_enqueue(template: dict[str, Any]) -> None:
    schedules = _events(template, "ExecuteFunction", "ScheduleV2")
    reap = schedules["Reap"]
    assert reap["ScheduleExpression"] == "rate(5 minutes)"
    assert json.loads(reap["Input"])["action"] == "reap"
    nightly = schedules["Nightly"]
    assert nightly["State"] == {"Fn::If": ["NightlyOn", "ENABLED", "DISABLED"]}
    assert template["Parameters"]["NightlyEnabled"]["Default"] == "false"
    body = nightly["Input"]["Fn::Sub"]
    parsed = json.loads(body.replace("${NightlyScenario}", "demo").replace("${NightlyPreset}", "quick"))
    assert parsed["action"] == "enqueue"
    assert parsed["scheduledTime"] == "<aws.scheduler.scheduled-time>"


def test_parameters_and_outputs(template: dict[str, Any]) -> None:
    assert {"DatabaseSecretArn", "SubnetIds", "SecurityGroupIds"} <= set(template["Parameters"])
    assert {"ApiUrl", "QueueUrl", "BucketName"} <= set(template["Outputs"])


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _statements(value)


def test_translated_policies_name_no_wildcard_resource(translated: dict[str, Any]) -> None:
    roles = {k: v for k, v in translated["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert {"ExecuteFunctionRole", "HistoryFunctionRole", "MigrateFunctionRole"} <= set(roles)
    statements = list(_statements([r["Properties"].get("Policies", []) for r in roles.values()]))
    assert statements
    for statement in statements:
        resources = statement.get("Resource")
        assert resources is not None, statement
        for resource in resources if isinstance(resources, list) else [resources]:
            assert resource != "*", statement
            assert not (isinstance(resource, str) and resource.endswith(":*")), statement
    history = json.dumps(roles["HistoryFunctionRole"]["Properties"].get("Policies", []))
    assert "s3:PutObject" not in history
    assert "sqs:" not in history


def test_translated_event_source_mapping(translated: dict[str, Any]) -> None:
    mappings = [
        v["Properties"]
        for v in translated["Resources"].values()
        if v["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert len(mappings) == 2
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)


def test_cfn_lint_is_clean_on_the_template_and_its_translation(
    translated: dict[str, Any], tmp_path: Path
) -> None:
    out = cfn_lint(TEMPLATE)
    assert out.returncode == 0, out.stdout + out.stderr
    path = tmp_path / "translated.json"
    path.write_text(json.dumps(translated))
    out = cfn_lint(path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_sam_validate_lint_passes() -> None:
    out = sam_validate(TEMPLATE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is a valid SAM Template" in out.stdout + out.stderr


def _python313() -> str | None:
    candidates = [
        shutil.which("python3.13"),
        *sorted(map(str, Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))),
    ]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.slow
def test_sam_build_succeeds(tmp_path: Path) -> None:
    sam = tools("sam")
    python = _python313()
    if python is None:
        missing_tool("python3.13 (`sam build` needs the runtime's Python; .ci/run installs it)")
    env = tools_env()
    env["PATH"] = f"{Path(python).parent}:{env.get('PATH', '')}"
    out = subprocess.run(
        [str(sam), "build", "--template-file", str(TEMPLATE), "--build-dir", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=900,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    layer = tmp_path / "build" / "CoreLayer" / "python"
    assert (layer / "testgenie" / "bootstrap.py").is_file()
    assert list(layer.glob("pydantic_core/*aarch64*.so")), "the layer must carry arm64 wheels"
    assert (tmp_path / "build" / "ExecuteFunction" / "execute_app.py").is_file()
    assert (tmp_path / "build" / "MigrateFunction" / "0001_suite_requests.sql").is_file()
