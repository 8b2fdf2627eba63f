"""Each runner's pass, fail and skip paths, on real folders, real commands and a real HTTP service."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testgenie.errors import ValidationError
from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseTimeout, RunState, TestCase
from testgenie.orchestrator.phases.performance import percentile
from testgenie.orchestrator.planning.testing_config import parse_testing_config

from tests.support.orchestrator import outcome, phase_context, run_phase

ScenarioFactory = Any


def classification(report: Any) -> Classification:
    found: Classification = report.failures[0].classification
    return found


# -- structure ---------------------------------------------------------------------------------


def test_structure_passes_fails_and_skips(make_scenario: ScenarioFactory) -> None:
    testing = {"phases": {"structure": {"requiredPaths": ["README.md", "src"]}}}
    good = make_scenario("good", testing, {"README.md": "# x", "src/a.py": ""})
    assert outcome(run_phase(phase_context(good, "structure", testing))) == "passed"

    missing = make_scenario("missing", testing, {"README.md": "# x"})
    report = run_phase(phase_context(missing, "structure", testing))
    assert outcome(report) == "failed"
    assert "required path 'src' is missing" in report.failures[0].message
    assert classification(report) == Classification.MISCONFIGURATION

    broken_json = make_scenario("broken", {}, {".testgenie/extra/settings.json": "{nope"})
    report = run_phase(phase_context(broken_json, "structure", {}))
    assert outcome(report) == "failed"
    assert ".testgenie/extra/settings.json is not valid JSON" in report.failures[0].message

    # An escaping path never reaches the runner: testing.json refuses it (a 400 when planned).
    escaping = '{"phases": {"structure": {"requiredPaths": ["../good/README.md"]}}}'
    with pytest.raises(
        ValidationError, match=r"phases\.structure\.requiredPaths\[0\]: '\.\./good/README\.md' must be"
    ):
        parse_testing_config(escaping)

    assert outcome(run_phase(phase_context(make_scenario("bare"), "structure"))) == "skipped"


# -- command phases: standards, lint, custom ------------------------------------------------------


@pytest.mark.parametrize("phase", ["standards", "lint"])
def test_command_phases(make_scenario: ScenarioFactory, phase: str) -> None:
    passing = {"phases": {phase: {"commands": ["true", ["sh", "-c", "exit 0"]]}}}
    report = run_phase(phase_context(make_scenario("p", passing), phase, passing))
    assert outcome(report) == "passed"
    assert report.checks == 2

    failing = {"phases": {phase: {"commands": ["echo 'style problem' && exit 1", "true"]}}}
    ctx = phase_context(make_scenario("f", failing), phase, failing)
    report = run_phase(ctx)
    assert outcome(report) == "failed"
    assert classification(report) == Classification.TEST_FAILURE
    assert len(report.observations) == 2  # all commands ran, not just up to the first failure
    assert "style problem" in ctx.log.getvalue().decode()

    missing = {"phases": {phase: {"commands": ["no-such-linter-xyz --check"]}}}
    report = run_phase(phase_context(make_scenario("m", missing), phase, missing))
    assert classification(report) == Classification.MISSING_DEPENDENCY

    report = run_phase(phase_context(make_scenario("s"), phase))
    assert outcome(report) == "skipped"
    assert f"phases.{phase}.commands" in report.skip_reason


def test_command_timeout_raises_phase_timeout(make_scenario: ScenarioFactory) -> None:
    testing = {"phases": {"lint": {"commands": ["sleep 30"]}}}
    with pytest.raises(PhaseTimeout):
        run_phase(phase_context(make_scenario("t", testing), "lint", testing, seconds=0.3))


def test_custom_script_phase(make_scenario: ScenarioFactory) -> None:
    ok = make_scenario(
        "ok", {}, {".testgenie/phases/test-check.sh": 'echo from-script; test -n "$TESTGENIE_PHASE" || true'}
    )
    ctx = phase_context(ok, "check")
    assert outcome(run_phase(ctx)) == "passed"
    assert "from-script" in ctx.log.getvalue().decode()

    bad = make_scenario("bad", {}, {".testgenie/phases/test-check.sh": "exit 4"})
    report = run_phase(phase_context(bad, "check"))
    assert outcome(report) == "failed"
    assert "exited with code 4" in report.failures[0].message


# -- dependencies ---------------------------------------------------------------------------------


def test_dependencies(make_scenario: ScenarioFactory, http_service: str) -> None:
    testing = {
        "env": {"API_URL": http_service, "TOKEN": "t"},
        "phases": {
            "dependencies": {
                "requiredCommands": ["sh"],
                "requiredEnv": ["TOKEN"],
                "endpoints": [{"url": "${API_URL}/health"}],
            }
        },
    }
    assert (
        outcome(run_phase(phase_context(make_scenario("ok", testing), "dependencies", testing))) == "passed"
    )

    missing_tool = {"phases": {"dependencies": {"requiredCommands": ["sh", "no-such-tool-xyz"]}}}
    report = run_phase(phase_context(make_scenario("tool", missing_tool), "dependencies", missing_tool))
    assert report.failures[0].message == "command 'no-such-tool-xyz' is not on PATH"
    assert classification(report) == Classification.MISSING_DEPENDENCY

    missing_env = {"phases": {"dependencies": {"requiredEnv": ["NOPE"]}}}
    report = run_phase(phase_context(make_scenario("env", missing_env), "dependencies", missing_env))
    assert report.failures[0].message == "variable NOPE is not set"

    down = {"phases": {"dependencies": {"endpoints": [{"url": "http://127.0.0.1:9/health"}]}}}
    report = run_phase(phase_context(make_scenario("down", down), "dependencies", down))
    assert classification(report) == Classification.MISSING_DEPENDENCY

    assert outcome(run_phase(phase_context(make_scenario("none"), "dependencies"))) == "skipped"


# -- docs -----------------------------------------------------------------------------------------

GOOD_DOC = """# Title
See [usage](docs/usage.md#intro), [site](https://example.com), [top](#title) and ![logo](img/logo.png).
Inline `[not a link](nowhere.md)` is code.

```mermaid
graph TD; A-->B
```

~~~python
print("[x](missing.md)")
~~~
[ref]: docs/usage.md
"""


def test_docs_pass(make_scenario: ScenarioFactory) -> None:
    folder = make_scenario(
        "ok", None, {"README.md": GOOD_DOC, "docs/usage.md": "[back](../README.md)", "img/logo.png": ""}
    )
    report = run_phase(phase_context(folder, "docs"))
    assert outcome(report) == "passed", report.failures


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[gone](missing.md)", "README.md:1: broken link 'missing.md'"),
        ("line\n[out](../../etc/passwd)", "README.md:2: link '../../etc/passwd' points outside the scenario"),
        ("```python\nprint(1)\n", "README.md:1: code fence ``` is never closed"),
        ("text\n```mermaid\n\n```\n", "README.md:2: mermaid block is empty"),
        ("[ref]: nothing-here.md", "README.md:1: broken link 'nothing-here.md'"),
    ],
)
def test_docs_fail(make_scenario: ScenarioFactory, content: str, problem: str) -> None:
    report = run_phase(phase_context(make_scenario("bad", None, {"README.md": content}), "docs"))
    assert outcome(report) == "failed"
    assert report.failures[0].message == problem


def test_docs_skip_and_ignored_folders(make_scenario: ScenarioFactory) -> None:
    assert outcome(run_phase(phase_context(make_scenario("none", None, {"a.txt": "x"}), "docs"))) == "skipped"
    vendored = make_scenario(
        "vendored", None, {"node_modules/pkg/README.md": "[x](gone.md)", "README.md": "ok"}
    )
    assert outcome(run_phase(phase_context(vendored, "docs"))) == "passed"


# -- HTTP phases: smoke, integration --------------------------------------------------------------


@pytest.mark.parametrize("phase", ["smoke", "integration"])
def test_http_checks(make_scenario: ScenarioFactory, http_service: str, phase: str) -> None:
    ok = {
        "baseUrl": http_service,
        "phases": {phase: {"checks": [{"url": "/health", "bodyContains": "healthy", "maxMs": 5000}]}},
    }
    report = run_phase(phase_context(make_scenario("ok", ok), phase, ok))
    assert outcome(report) == "passed", report.failures

    cases = [
        (
            {"url": "/health", "bodyContains": "sick"},
            "body does not contain 'sick'",
            Classification.TEST_FAILURE,
        ),
        ({"url": "/missing"}, "status 404, expected 200", Classification.TEST_FAILURE),
        ({"url": "/redirect"}, "status 302, expected 200", Classification.TEST_FAILURE),
        ({"url": "/slow", "maxMs": 1}, "budget 1 ms", Classification.TEST_FAILURE),
        ({"url": "http://127.0.0.1:9/"}, "no answer", Classification.MISSING_DEPENDENCY),
        ({"url": "${UNSET}/x"}, "${UNSET} is not set", Classification.MISCONFIGURATION),
        ({"url": "file:///etc/passwd"}, "is not an http(s) URL", Classification.MISCONFIGURATION),
    ]
    for check, message, expected_class in cases:
        testing = {"baseUrl": http_service, "phases": {phase: {"checks": [check]}}}
        report = run_phase(phase_context(make_scenario("bad", testing), phase, testing))
        assert outcome(report) == "failed", check
        assert message in report.failures[0].message, (check, report.failures[0].message)
        assert classification(report) == expected_class, check

    relative_without_base = {"phases": {phase: {"checks": [{"url": "/health"}]}}}
    report = run_phase(
        phase_context(make_scenario("nobase", relative_without_base), phase, relative_without_base)
    )
    assert "no baseUrl" in report.failures[0].message

    assert outcome(run_phase(phase_context(make_scenario("none"), phase))) == "skipped"


def test_integration_commands_and_checks_together(make_scenario: ScenarioFactory, http_service: str) -> None:
    testing = {
        "env": {"API": http_service},
        "phases": {
            "integration": {
                "checks": [{"method": "POST", "url": "${API}/items", "body": "{}", "status": 201}],
                "commands": ["true"],
            }
        },
    }
    report = run_phase(phase_context(make_scenario("both", testing), "integration", testing))
    assert outcome(report) == "passed", report.failures
    assert report.checks == 2


# -- unit (detection and JUnit) -------------------------------------------------------------------

PASSING_TESTS = """
import pytest

@pytest.mark.parametrize("x", [1], ids=["REQ:R-1"])
def test_one(x):
    assert x == 1

def test_two():
    assert True

@pytest.mark.skip(reason="later")
def test_three():
    pass
"""

FAILING_TESTS = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("boom")

def test_good():
    assert 1 == 1

def test_bad():
    assert 1 == 2, "one is not two"

def test_error(broken):
    pass
"""

PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_unit_detects_pytest_and_counts_tests(make_scenario: ScenarioFactory) -> None:
    folder = make_scenario("py", None, {"tests/test_a.py": PASSING_TESTS})
    run = RunState()
    report = run_phase(phase_context(folder, "unit", run=run, env=PYTEST_ENV))
    assert outcome(report) == "passed", report.failures
    assert report.tests is not None
    assert (report.tests.total, report.tests.passed, report.tests.skipped) == (3, 2, 1)
    assert any("[REQ:R-1]" in case.name and case.status == "passed" for case in run.test_cases)


def test_unit_failures_name_the_failing_tests(make_scenario: ScenarioFactory) -> None:
    folder = make_scenario("py", None, {"tests/test_a.py": FAILING_TESTS})
    report = run_phase(phase_context(folder, "unit", env=PYTEST_ENV))
    assert outcome(report) == "failed"
    assert report.tests is not None
    assert (report.tests.total, report.tests.passed, report.tests.failed, report.tests.errored) == (
        3,
        1,
        1,
        1,
    )
    assert len(report.failures) == 1  # the JUnit summary replaces the bare exit code
    message = report.failures[0].message
    assert message.startswith("2 of 3 tests failed: ")
    assert "test_bad" in message
    assert "test_error" in message
    assert classification(report) == Classification.TEST_FAILURE
    assert any("one is not two" in o.text for o in report.observations)


def test_unit_configured_command_with_junit_glob(make_scenario: ScenarioFactory) -> None:
    junit = (
        '<testsuite name="s"><testcase classname="c" name="ok"/>'
        '<testcase classname="c" name="bad"><failure message="nope"/></testcase></testsuite>'
    )
    testing = {
        "phases": {"unit": {"commands": ["mkdir -p out && cp report.xml out/r.xml"], "junit": ["out/*.xml"]}}
    }
    folder = make_scenario("junit", testing, {"report.xml": junit})
    report = run_phase(phase_context(folder, "unit", testing))
    assert outcome(report) == "failed"  # the command passed, but a test in its report failed
    assert report.tests is not None
    assert report.tests.failed == 1
    assert "c::bad" in report.failures[0].message


def test_unit_unreadable_junit_is_misconfiguration(make_scenario: ScenarioFactory) -> None:
    testing = {"phases": {"unit": {"commands": ["echo '<html>' > \"$TESTGENIE_REPORTS_DIR/x.xml\""]}}}
    report = run_phase(phase_context(make_scenario("j", testing), "unit", testing))
    assert classification(report) == Classification.MISCONFIGURATION


def test_unit_detects_npm_and_go(make_scenario: ScenarioFactory) -> None:
    from testgenie.orchestrator.phases.unit import detect_commands

    folder = make_scenario(
        "multi", None, {"go.mod": "module x\n", "package.json": json.dumps({"scripts": {"test": "jest"}})}
    )
    assert detect_commands(folder, folder) == [("go", "test", "./..."), ("npm", "test", "--silent")]
    placeholder = make_scenario(
        "npm-init",
        None,
        {"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}'},
    )
    assert detect_commands(placeholder, placeholder) == []


def test_unit_skips_without_tests_or_when_detection_is_off(make_scenario: ScenarioFactory) -> None:
    assert (
        outcome(run_phase(phase_context(make_scenario("empty", None, {"src/a.py": ""}), "unit"))) == "skipped"
    )
    off = {"phases": {"unit": {"detect": False}}}
    folder = make_scenario("off", off, {"tests/test_a.py": PASSING_TESTS})
    assert outcome(run_phase(phase_context(folder, "unit", off))) == "skipped"


# -- playbooks ------------------------------------------------------------------------------------


def playbook(steps: list[dict[str, Any]], **extra: Any) -> str:
    return json.dumps({"name": "flow", "steps": steps, **extra})


def test_playbook_with_capture_passes(make_scenario: ScenarioFactory, http_service: str) -> None:
    flow = playbook(
        [
            {
                "name": "create",
                "method": "POST",
                "url": "/items",
                "json": {"name": "${ITEM}"},
                "expect": {"status": 201, "json": {"data.name": "widget"}},
                "capture": {"itemId": "data.id"},
            },
            {"name": "fetch", "url": "/items/${itemId}", "expect": {"bodyContains": "widget", "maxMs": 5000}},
        ],
        variables={"ITEM": "widget"},
    )
    testing = {"baseUrl": http_service}
    folder = make_scenario("pb", testing, {"playbooks/flow.json": flow})
    report = run_phase(phase_context(folder, "playbooks", testing))
    assert outcome(report) == "passed", report.failures
    assert report.observations[0].text == "playbooks/flow.json (flow): 2 steps passed"


def test_playbook_failures(make_scenario: ScenarioFactory, http_service: str) -> None:
    testing = {"baseUrl": http_service}
    wrong_value = playbook(
        [
            {
                "method": "POST",
                "url": "/items",
                "json": {"name": "a"},
                "expect": {"status": 201, "json": {"data.name": "b"}},
            }
        ]
    )
    stops_early = playbook([{"url": "/missing"}, {"url": "/health"}])
    folder = make_scenario(
        "pb",
        testing,
        {
            "playbooks/a.json": wrong_value,
            "playbooks/b.json": stops_early,
            "playbooks/c.json": '{"steps": []}',
        },
    )
    ctx = phase_context(folder, "playbooks", testing)
    report = run_phase(ctx)
    messages = [f.message for f in report.failures]
    assert messages[0] == 'playbooks/a.json (flow) step 1: data.name is "a", expected "b"'
    assert messages[1] == "playbooks/b.json (flow) step 1: status 404, expected 200"
    assert messages[2].startswith("playbooks/c.json is not a valid playbook")
    assert report.failures[2].classification == Classification.MISCONFIGURATION
    assert "/health" not in ctx.log.getvalue().decode()  # a failed step ends its playbook


def test_playbooks_skip_without_files(make_scenario: ScenarioFactory) -> None:
    assert outcome(run_phase(phase_context(make_scenario("none"), "playbooks"))) == "skipped"


# -- business -------------------------------------------------------------------------------------

REQUIREMENTS = json.dumps(
    {
        "requirements": [
            {"id": "R-1", "title": "covered", "critical": True},
            {"id": "R-2", "title": "nice to have"},
        ]
    }
)


def case(name: str, status: str = "passed") -> TestCase:
    return TestCase(name=name, classname="t", status=status)  # type: ignore[arg-type]


def test_business_covered_and_uncovered(make_scenario: ScenarioFactory) -> None:
    folder = make_scenario("biz", None, {"requirements/main.json": REQUIREMENTS})
    covered = RunState([case("test_a[REQ:R-1]")])
    report = run_phase(phase_context(folder, "business", run=covered))
    assert outcome(report) == "passed"
    assert any(o.prefix == "WARNING" and "R-2" in o.text for o in report.observations)

    report = run_phase(phase_context(folder, "business", run=RunState()))
    assert outcome(report) == "failed"
    assert report.failures[0].message == (
        "critical requirement R-1 (covered) is not covered by any passing test in this run"
    )

    failing = RunState([case("test_a[REQ:R-1]"), case("test_b[REQ:R-1]", "failed")])
    report = run_phase(phase_context(folder, "business", run=failing))
    assert "has a failing test" in report.failures[0].message


def test_business_bad_file_and_skip(make_scenario: ScenarioFactory) -> None:
    bad = make_scenario("bad", None, {"requirements/x.json": '{"requirements": [{"title": "no id"}]}'})
    report = run_phase(phase_context(bad, "business"))
    assert classification(report) == Classification.MISCONFIGURATION
    assert outcome(run_phase(phase_context(make_scenario("none"), "business"))) == "skipped"


# -- performance ----------------------------------------------------------------------------------


def test_performance_probes(make_scenario: ScenarioFactory, http_service: str) -> None:
    ok = {
        "baseUrl": http_service,
        "phases": {
            "performance": {"probes": [{"url": "/health", "requests": 10, "concurrency": 3, "p95Ms": 5000}]}
        },
    }
    report = run_phase(phase_context(make_scenario("ok", ok), "performance", ok))
    assert outcome(report) == "passed", report.failures
    assert "10 requests x3" in report.observations[0].text

    slow = {
        "baseUrl": http_service,
        "phases": {"performance": {"probes": [{"url": "/slow", "requests": 4, "p95Ms": 1}]}},
    }
    report = run_phase(phase_context(make_scenario("slow", slow), "performance", slow))
    assert classification(report) == Classification.TEST_FAILURE

    wrong = {
        "baseUrl": http_service,
        "phases": {"performance": {"probes": [{"url": "/missing", "requests": 2, "p95Ms": 5000}]}},
    }
    report = run_phase(phase_context(make_scenario("wrong", wrong), "performance", wrong))
    assert "2 with an unexpected status" in report.failures[0].message

    down = {
        "phases": {"performance": {"probes": [{"url": "http://127.0.0.1:9/", "requests": 2, "p95Ms": 5000}]}}
    }
    report = run_phase(phase_context(make_scenario("down", down), "performance", down))
    assert classification(report) == Classification.MISSING_DEPENDENCY

    assert outcome(run_phase(phase_context(make_scenario("none"), "performance"))) == "skipped"


def test_percentile_is_nearest_rank() -> None:
    samples = [float(v) for v in range(1, 21)]
    assert percentile(samples, 0.95) == 19.0
    assert percentile([5.0], 0.95) == 5.0
