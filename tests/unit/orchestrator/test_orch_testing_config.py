"""`.testgenie/testing.json`: parsing, error messages naming file and field, and the published schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from testgenie.errors import ValidationError
from testgenie.orchestrator.planning.testing_config import (
    TestingConfig,
    load_testing_config,
    parse_testing_config,
    parse_timeout,
    schema_of_testing_json,
)

from tests.support.paths import EXAMPLES, REPO_ROOT


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(120, 120), ("120", 120), ("90s", 90), ("5m", 300), ("1h", 3600), (" 2m ", 120), ("86400", 86400)],
)
def test_timeouts(value: object, seconds: int) -> None:
    assert parse_timeout(value) == seconds


@pytest.mark.parametrize("value", [0, -1, "", "abc", "5d", "1.5m", 1.5, True, None, "86401", [1]])
def test_bad_timeouts(value: object) -> None:
    with pytest.raises(ValueError, match="unsupported timeout value"):
        parse_timeout(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid .testgenie/testing.json: not valid JSON at line 1 column 2"),
        ("[]", "invalid .testgenie/testing.json: (top level): must be a JSON object"),
        (
            '{"phases": {"unit": {"timeout": "soon"}}}',
            "phases.unit.timeout: unsupported timeout value 'soon'",
        ),
        ('{"phases": {"unit": {"enabled": "no"}}}', "phases.unit.enabled: Input should be a valid boolean"),
        ('{"phases": {"unit": {"commands": [""]}}}', "phases.unit.commands[0]: a command is a non-empty"),
        ('{"phases": {"unit": {}, "UNIT": {}}}', "phases: phase 'unit' is configured twice"),
        ('{"presets": {"quick": []}}', "presets.quick: List should have at least 1 item"),
        ('{"presets": {"quick": {"phases": ["unit"]}}}', "presets.quick: Input should be a valid list"),
        ('{"phases": {"smoke": {"checks": [{"url": "/h", "maxMs": 0}]}}}', "phases.smoke.checks[0].maxMs"),
        ('{"phases": {"performance": {"probes": [{"url": "/h"}]}}}', "phases.performance.probes[0].p95Ms"),
        (
            '{"colour": 1, "phases": {"unit": {"timeout": "soon"}}}',
            "phases.unit.timeout: unsupported timeout value 'soon'",
        ),
    ],
)
def test_malformed_config_names_file_and_field(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_testing_config(text)
    assert caught.value.message.startswith("invalid .testgenie/testing.json: ")
    assert message in caught.value.message


def test_full_config_parses(tmp_path: Path) -> None:
    config = parse_testing_config(
        json.dumps(
            {
                "$schema": "x",
                "baseUrl": "http://localhost:${PORT}",
                "env": {"PORT": "8080"},
                "phases": {
                    "Unit": {
                        "timeout": "5m",
                        "commands": ["pytest -q", ["go", "test"]],
                        "junit": ["out/*.xml"],
                    },
                    "integration": {
                        "checks": [{"method": "POST", "url": "/x", "status": 201, "bodyContains": "id"}]
                    },
                    "my-phase": {"commands": ["true"]},
                },
                "presets": {"Fast": ["unit"]},
            }
        )
    )
    assert config.phases.unit.timeout == 300
    assert config.phases.unit.commands == ["pytest -q", ("go", "test")]
    assert config.phases.integration.checks[0].body_contains == "id"
    assert list(config.phases.custom()) == ["my-phase"]
    assert config.presets == {"fast": ["unit"]}
    assert load_testing_config(tmp_path) == TestingConfig()  # no file: every default


def test_published_schema_matches_the_models() -> None:
    published = json.loads((REPO_ROOT / "docs" / "testing.schema.json").read_text())
    assert published == schema_of_testing_json(), (
        "regenerate docs/testing.schema.json (see docs/scenarios.md)"
    )


@pytest.mark.parametrize("scenario", ["hello-python", "broken-python"])
def test_example_configs_satisfy_schema_and_models(scenario: str) -> None:
    text = (EXAMPLES / scenario / ".testgenie" / "testing.json").read_text()
    jsonschema.validate(json.loads(text), schema_of_testing_json())
    parse_testing_config(text)


def test_schema_rejects_what_the_models_reject() -> None:
    schema = schema_of_testing_json()
    bad: dict[str, Any]
    for bad in (
        {"phases": {"unit": {"timeout": "soon"}}},
        {"presets": {"x": []}},
        {"phases": {"unit": {"x": 1}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_the_example_in_docs_is_a_valid_config() -> None:
    text = (REPO_ROOT / "docs" / "scenarios.md").read_text()
    section = text[text.index("## `.testgenie/testing.json`") :]
    example = section[
        section.index("```json\n") + len("```json\n") : section.index("\n```", section.index("```json"))
    ]
    config = parse_testing_config(example)
    jsonschema.validate(json.loads(example), schema_of_testing_json())
    assert list(config.phases.custom()) == ["seed-data"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"python": {"requirements": "/etc/passwd"}}, "python.requirements"),
        ({"python": {"requirements": "../other/requirements.txt"}}, "python.requirements"),
        ({"phases": {"structure": {"requiredPaths": ["ok", "/abs"]}}}, "phases.structure.requiredPaths[1]"),
        ({"phases": {"docs": {"paths": ["docs/../../x/*.md"]}}}, "phases.docs.paths[0]"),
        ({"phases": {"docs": {"exclude": ["C:/x"]}}}, "phases.docs.exclude[0]"),
        ({"phases": {"unit": {"junit": ["../../reports/*.xml"]}}}, "phases.unit.junit[0]"),
        ({"phases": {"playbooks": {"dir": "/srv/playbooks"}}}, "phases.playbooks.dir"),
        ({"phases": {"business": {"dir": "~/reqs"}}}, "phases.business.dir"),
        ({"phases": {"seed": {"commands": ["x"], "junit": ["/tmp/x.xml"]}}}, "phases.seed.junit[0]"),
    ],
)
def test_absolute_or_escaping_paths_are_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(
        ValidationError, match=rf"{re.escape(field)}: '.*' must be a path inside the scenario"
    ):
        parse_testing_config(json.dumps(config))


def test_python_requirements_are_declared_relative_to_the_scenario() -> None:
    config = parse_testing_config('{"python": {"requirements": "requirements-test.txt"}}')
    assert config.python.requirements == "requirements-test.txt"
    assert parse_testing_config("{}").python.requirements is None
    assert parse_testing_config('{"python": {"pip": "x"}}').warnings == [
        ".testgenie/testing.json: unknown key 'python.pip' was ignored (known keys: requirements)"
    ]


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            '{"phases": {"unit": {"tmeout": 5}}}',
            "unknown key 'phases.unit.tmeout' was ignored (did you mean 'timeout'?)",
        ),
        ('{"baseURL": "http://x"}', "unknown key 'baseURL' was ignored (did you mean 'baseUrl'?)"),
        (
            '{"phases": {"smoke": {"checks": [{"url": "/h", "bodyContain": "ok"}]}}}',
            "unknown key 'phases.smoke.checks[0].bodyContain' was ignored (did you mean 'bodyContains'?)",
        ),
        (
            '{"phases": {"mine": {"commands": ["true"], "comands": ["false"]}}}',
            "unknown key 'phases.mine.comands' was ignored (did you mean 'commands'?)",
        ),
        (
            '{"jest": {"testMatch": ["*.js"]}}',
            "unknown key 'jest' was ignored (known keys: $schema, baseUrl, env, phases, presets, python)",
        ),
    ],
)
def test_an_unknown_key_is_a_warning_naming_file_key_and_closest_known_key(text: str, warning: str) -> None:
    """Files written for other tools carry their own keys: a warning, never an error; the rest holds."""
    config = parse_testing_config(text)
    assert config.warnings == [f".testgenie/testing.json: {warning}"]
    assert config.phases.unit.timeout is None  # the misspelt setting did not slip into another one


def test_known_keys_give_no_warning() -> None:
    text = '{"baseUrl": "http://x", "phases": {"unit": {"timeout": 5, "commands": ["true"]}}}'
    config = parse_testing_config(text)
    assert (config.warnings, config.phases.unit.timeout) == ([], 5)
