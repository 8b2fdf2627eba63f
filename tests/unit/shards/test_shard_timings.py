"""The durations the split learns from come from each test case's JUnit `time`."""

from __future__ import annotations

from pathlib import Path

from testgenie.orchestrator.models import TestTiming
from testgenie.orchestrator.phases.junit import measured_timings, parse_junit

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
  <testcase classname="tests.test_a" name="test_fast" time="0.012"/>
  <testcase classname="tests.test_a.TestB" name="test_slow[1]" time="2.5"><failure message="x"/></testcase>
  <testcase classname="tests.test_a" name="test_untimed"/>
  <testcase classname="tests.test_a" name="test_garbage" time="soon"/>
  <testcase classname="tests.test_a" name="test_negative" time="-1"/>
</testsuite></testsuites>
"""


def test_junit_time_becomes_the_test_timing(tmp_path: Path) -> None:
    path = tmp_path / "pytest.xml"
    path.write_text(REPORT)
    cases = parse_junit(path, "unit")

    assert [case.duration_ms for case in cases] == [12, 2500, None, None, None]
    assert measured_timings(cases) == [
        TestTiming(phase="unit", test_id="tests.test_a::test_fast", duration_ms=12),
        TestTiming(phase="unit", test_id="tests.test_a.TestB::test_slow[1]", duration_ms=2500),
    ]
