"""Failing tests from JUnit reports: names and short signatures (exception type + first line), capped."""

from __future__ import annotations

from pathlib import Path

from testgenie.orchestrator.models import MAX_FAILING_TESTS_PER_PHASE
from testgenie.orchestrator.phases.junit import failing_tests, failure_signature, parse_junit

PYTEST_STYLE = """<?xml version="1.0"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.unit.test_calc" name="test_add"><failure message="assert 1 == 2">def test_add():
&gt;       assert 1 == 2
E       assert 1 == 2

tests/unit/test_calc.py:4: AssertionError</failure></testcase>
<testcase classname="tests.unit.test_calc" name="test_key"><error message="KeyError: 'k'">tests/unit/test_calc.py:9: KeyError</error></testcase>
<testcase classname="tests.unit.test_calc" name="test_ok"/>
<testcase classname="tests.unit.test_calc" name="test_skip"><skipped message="later"/></testcase>
</testsuite></testsuites>"""

SUREFIRE_STYLE = """<testsuite name="CalcTest">
<testcase classname="com.acme.CalcTest" name="adds">
<failure type="org.opentest4j.AssertionFailedError" message="expected: &lt;2&gt; but was: &lt;1&gt;&#10;second line">trace</failure></testcase>
<testcase classname="" name="bare"><failure>

  Error: boom
  at x.js:1</failure></testcase>
</testsuite>"""


def _report(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "report.xml"
    path.write_text(text)
    return path


def test_pytest_reports_give_the_type_from_the_traceback(tmp_path: Path) -> None:
    found = failing_tests(parse_junit(_report(tmp_path, PYTEST_STYLE), "unit"))

    assert [(t.name, t.signature) for t in found] == [
        ("tests.unit.test_calc::test_add", "AssertionError: assert 1 == 2"),
        ("tests.unit.test_calc::test_key", "KeyError: 'k'"),  # the message already starts with its type
    ]


def test_a_type_attribute_is_shortened_and_only_the_first_line_kept(tmp_path: Path) -> None:
    found = failing_tests(parse_junit(_report(tmp_path, SUREFIRE_STYLE), "unit"))

    assert [(t.name, t.signature) for t in found] == [
        ("com.acme.CalcTest::adds", "AssertionFailedError: expected: <2> but was: <1>"),
        ("bare", "Error: boom"),
    ]


def test_signatures_are_short_and_the_list_is_capped(tmp_path: Path) -> None:
    cases = "".join(f'<testcase name="t{i}"><failure message="{"x" * 400}"/></testcase>' for i in range(30))
    found = failing_tests(parse_junit(_report(tmp_path, f"<testsuite>{cases}</testsuite>"), "unit"))

    assert len(found) == MAX_FAILING_TESTS_PER_PHASE
    assert {len(t.signature) for t in found} == {200}
    assert failure_signature("", "") == ""
    assert failure_signature("ValueError", "") == "ValueError"
