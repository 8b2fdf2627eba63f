from __future__ import annotations

from pathlib import Path

import pytest
from testgenie_local.template import Intrinsic, Resolver, TemplateError, load_yaml, read_template

from tests.support.paths import LOCAL_FIXTURE_STACK as FIXTURE


def test_intrinsic_tags_are_kept_not_refused() -> None:
    doc = load_yaml(
        "A: !Ref X\nB: !GetAtt Q.Arn\nC: !Sub 'x-${Y}'\nD: !Join [',', [a, b]]\nE: {'Fn::GetAtt': [Q, Arn]}\n"
    )
    assert doc["A"] == Intrinsic("Ref", "X")
    assert doc["B"] == Intrinsic("GetAtt", ["Q", "Arn"])
    assert doc["C"] == Intrinsic("Sub", "x-${Y}")
    assert doc["D"] == Intrinsic("Join", [",", ["a", "b"]])
    assert doc["E"] == Intrinsic("GetAtt", ["Q", "Arn"])


def test_routes_methods_and_paths(template) -> None:  # type: ignore[no-untyped-def]
    routes = {(r.method, r.path) for r, _ in template.routes()}
    assert routes == {
        ("POST", "/api/v1/things"),
        ("GET", "/api/v1/things/{id}"),
        ("GET", "/api/v1/things/latest"),
        ("GET", "/api/v1/things/{id}/parts/{name}/log"),
    }


def test_function_code_handler_timeout_and_layers(template) -> None:  # type: ignore[no-untyped-def]
    work = template.functions["WorkFunction"]
    assert work.code_uri == (FIXTURE / "functions" / "fake").resolve()
    assert (work.module_name, work.function_name) == ("fake_app", "handler")
    assert work.timeout_seconds == 30
    assert work.layers == [(FIXTURE / "layer").resolve()]
    # Globals apply where the function says nothing.
    assert template.functions["CustomFunction"].timeout_seconds == 7
    assert work.environment["STAGE"] == Intrinsic("Ref", "Stage")
    assert "QUEUE_URL" in work.environment


def test_sqs_event_source_settings(template) -> None:  # type: ignore[no-untyped-def]
    sources = {s.event_name: s for s in template.functions["WorkFunction"].sqs_sources}
    work = sources["Work"]
    assert (work.queue, work.batch_size, work.batching_window_seconds) == ("WorkQueue", 5, 1)
    assert work.report_batch_item_failures is True
    assert work.maximum_concurrency == 3
    dead = sources["Dead"]
    assert (dead.queue, dead.batch_size, dead.batching_window_seconds, dead.maximum_concurrency) == (
        "WorkDLQ",
        1,
        0,
        None,
    )


def test_queues_redrive_and_bucket(template) -> None:  # type: ignore[no-untyped-def]
    work = template.queues["WorkQueue"]
    assert (work.visibility_timeout_seconds, work.dead_letter_queue, work.max_receive_count) == (
        180,
        "WorkDLQ",
        3,
    )
    dlq = template.queues["WorkDLQ"]
    assert (dlq.visibility_timeout_seconds, dlq.dead_letter_queue, dlq.message_retention_seconds) == (
        30,
        None,
        1209600,
    )
    assert template.buckets["DataBucket"].name == "testgenie-data-123456789012"


def test_schedules_with_input_and_state(template) -> None:  # type: ignore[no-untyped-def]
    schedules = {s.event_name: s for s in template.functions["WorkFunction"].schedules}
    assert schedules["Reap"].expression == "rate(1 minute)"  # a parameter's default
    assert schedules["Reap"].input == {"action": "reap"}
    assert schedules["Reap"].enabled
    assert schedules["Nightly"].input == {"action": "enqueue", "scenarioName": "hello-python"}
    assert not schedules["Paused"].enabled
    assert schedules["Paused"].input == {"action": "enqueue", "stage": "test"}


def test_resolver_uses_local_values() -> None:
    resolver = Resolver(
        {"Stage": "dev"}, refs={"Q": "http://q"}, attrs={"Q.Arn": "arn:q"}, region="eu-west-1"
    )
    assert resolver.resolve(Intrinsic("Ref", "Q")) == "http://q"
    assert resolver.resolve(Intrinsic("GetAtt", ["Q", "Arn"])) == "arn:q"
    assert resolver.resolve(Intrinsic("Sub", "${Stage}/${AWS::Region}/${Q.Arn}/${!Literal}")) == (
        "dev/eu-west-1/arn:q/${Literal}"
    )
    assert resolver.resolve(Intrinsic("Sub", ["${A}-${Stage}", {"A": "x"}])) == "x-dev"


def test_unknown_queue_and_bad_input_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "template.yaml"
    bad.write_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: f/\n"
        "      Handler: app.handler\n      Events:\n        S:\n          Type: SQS\n          Properties:\n"
        "            Queue: !GetAtt Missing.Arn\n"
    )
    with pytest.raises(TemplateError, match="unknown queue 'Missing'"):
        read_template(bad)
    bad.write_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: f/\n"
        "      Handler: app.handler\n      Events:\n        S:\n          Type: ScheduleV2\n          Properties:\n"
        "            ScheduleExpression: rate(1 minute)\n            Input: '{not json'\n"
    )
    with pytest.raises(TemplateError, match="Input is not JSON"):
        read_template(bad)
    with pytest.raises(TemplateError, match="cannot read"):
        read_template(tmp_path / "missing.yaml")


def test_conditions_are_evaluated_with_parameter_defaults(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n  On: {Type: String, Default: 'false'}\n  Url: {Type: String, Default: ''}\n"
        "Conditions:\n  IsOn: !Equals [!Ref On, 'true']\n  HasUrl: !Not [!Equals [!Ref Url, '']]\n"
        "  Either: !Or [!Condition IsOn, !Condition HasUrl]\n"
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: f/\n"
        "      Handler: app.handler\n      Environment:\n        Variables:\n"
        "          A: !If [IsOn, yes-on, no-off]\n          B: !If [Either, x, y]\n"
        "      Events:\n        S:\n          Type: ScheduleV2\n          Properties:\n"
        "            ScheduleExpression: rate(1 minute)\n            State: !If [IsOn, ENABLED, DISABLED]\n"
    )
    template = read_template(path)
    resolver = Resolver(template.parameters, conditions=template.conditions)
    env = resolver.resolve(template.functions["F"].environment)
    assert env == {"A": "no-off", "B": "y"}
    assert template.functions["F"].schedules[0].enabled is False


def test_the_project_template_is_readable() -> None:
    project = Path(__file__).resolve().parents[3] / "template.yaml"
    template = read_template(project)
    execute = template.functions["ExecuteFunction"]
    history = template.functions["HistoryFunction"]
    assert (execute.code_uri / f"{execute.module_name}.py").is_file()
    assert (history.code_uri / f"{history.module_name}.py").is_file()
    routes = {(r.method, r.path) for r, _ in template.routes()}
    assert ("POST", "/api/v1/suite-requests") in routes
    assert ("GET", "/api/v1/health") in routes
    queues = {s.queue for s in execute.sqs_sources}
    assert any(template.queues[q].dead_letter_queue for q in queues)
    assert any(s.enabled and s.input and s.input.get("action") == "reap" for s in execute.schedules)


def test_global_layers_come_first_and_a_function_adds_its_own() -> None:
    """As SAM merges Globals: lists are additive, so the runner gets the core layer and its toolchain."""
    project = Path(__file__).resolve().parents[3] / "template.yaml"
    functions = read_template(project).functions
    root = project.parent
    assert functions["RunnerFunction"].layers == [root / "layers" / "core", root / "layers" / "toolchain"]
    assert functions["ExecuteFunction"].layers == [root / "layers" / "core"]


def test_find_in_map_resolves_against_the_mappings_with_parameter_defaults(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n  Size: {Type: String, Default: 'small'}\n"
        "Mappings:\n  Budget:\n    small: {Queue: 2}\n    large: {Queue: 9}\n"
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  F:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: f/\n      Handler: app.handler\n      Events:\n        S:\n"
        "          Type: SQS\n          Properties:\n            Queue: !GetAtt Q.Arn\n"
        "            ScalingConfig:\n              MaximumConcurrency: !FindInMap [Budget, !Ref Size, Queue]\n"
    )
    template = read_template(path)
    assert template.functions["F"].sqs_sources[0].maximum_concurrency == 2
    resolver = Resolver({"Size": "large"}, mappings=template.mappings)
    assert resolver.resolve(Intrinsic("FindInMap", ["Budget", Intrinsic("Ref", "Size"), "Queue"])) == 9
    with pytest.raises(TemplateError, match=r"no Budget\.huge\.Queue"):
        Resolver({"Size": "huge"}, mappings=template.mappings).resolve(
            Intrinsic("FindInMap", ["Budget", Intrinsic("Ref", "Size"), "Queue"])
        )


def test_the_project_queue_concurrency_comes_from_the_connection_budget() -> None:
    project = Path(__file__).resolve().parents[3] / "template.yaml"
    template = read_template(project)
    budget = template.mappings["ConnectionBudget"][template.parameters["DatabaseMaxConnections"]]
    sources = {s.event_name: s for s in template.functions["ExecuteFunction"].sqs_sources}
    assert sources["SuiteRequests"].maximum_concurrency == budget["Queue"]
    assert sources["DeadLetters"].maximum_concurrency == budget["DeadLetters"]
    # The local stack keeps as many environments (connections) per function as the budget reserves.
    assert template.functions["ExecuteFunction"].reserved_concurrency == budget["Execute"]
    assert template.functions["HistoryFunction"].reserved_concurrency == budget["History"]
