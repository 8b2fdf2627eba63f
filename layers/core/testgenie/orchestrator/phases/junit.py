"""JUnit XML (pytest, go-junit-report, jest-junit, surefire …) -> test cases and counts."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from testgenie.orchestrator.models import (
    MAX_FAILING_TESTS_PER_PHASE,
    MAX_SIGNATURE_CHARS,
    FailingTest,
    TestCounts,
    TestTiming,
)
from testgenie.orchestrator.phases.base import TestCase, TestStatus

MAX_REPORT_BYTES = 50 * 1024 * 1024


_OUTCOME_ELEMENTS: tuple[tuple[str, TestStatus], ...] = (
    ("failure", "failed"),
    ("error", "errored"),
    ("skipped", "skipped"),
)


# pytest writes no type attribute; its traceback ends with "path.py:12: AssertionError".
_TRACE_TYPE_RE = re.compile(r"^\S+:\d+: ([A-Za-z_][\w.]*)\s*$", re.MULTILINE)


def _type_from_trace(text: str) -> str:
    found = _TRACE_TYPE_RE.findall(text[-4000:])
    return found[-1] if found else ""


class JUnitError(Exception):
    """A report file that cannot be read as JUnit XML."""


def parse_junit(path: Path, phase: str = "") -> list[TestCase]:
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise JUnitError(f"{path.name}: larger than {MAX_REPORT_BYTES} bytes")
        root = ET.parse(path).getroot()  # noqa: S314 - expat refuses entity expansion bombs
    except (ET.ParseError, OSError) as exc:
        raise JUnitError(f"{path.name}: {exc}") from None
    if root.tag not in {"testsuites", "testsuite"}:
        raise JUnitError(f"{path.name}: root element is <{root.tag}>, not <testsuites> or <testsuite>")
    cases = []
    for case in root.iter("testcase"):
        status: TestStatus = "passed"
        message = ""
        error_type = ""
        for child, child_status in _OUTCOME_ELEMENTS:
            element = case.find(child)
            if element is not None:
                status = child_status
                message = element.get("message") or (element.text or "").strip()
                error_type = element.get("type") or _type_from_trace(element.text or "")
                break
        cases.append(
            TestCase(
                name=case.get("name", ""),
                classname=case.get("classname", ""),
                status=status,
                message=message[:500],
                phase=phase,
                error_type=error_type[:200],
                duration_ms=_milliseconds(case.get("time")),
            )
        )
    return cases


def _milliseconds(seconds: str | None) -> int | None:
    """JUnit's time="0.123" (seconds) -> 123; None when absent or not a duration."""
    try:
        value = float(seconds) if seconds is not None else math.nan
    except ValueError:
        return None
    return round(value * 1000) if math.isfinite(value) and value >= 0 else None


def measured_timings(cases: Iterable[TestCase]) -> list[TestTiming]:
    """The measured durations of the cases that have one (what the shard split learns from)."""
    return [
        TestTiming(phase=case.phase, test_id=case.full_name, duration_ms=case.duration_ms)
        for case in cases
        if case.duration_ms is not None and case.phase
    ]


def count_tests(cases: Iterable[TestCase]) -> TestCounts:
    counts = TestCounts()
    for case in cases:
        counts.total += 1
        if case.status == "passed":
            counts.passed += 1
        elif case.status == "failed":
            counts.failed += 1
        elif case.status == "errored":
            counts.errored += 1
        else:
            counts.skipped += 1
    return counts


def failure_signature(error_type: str, message: str) -> str:
    """Exception type + the message's first line ("AssertionError: assert 1 == 2"), short: the same
    failure gives the same signature run after run (compare, stats)."""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    kind = error_type.rsplit(".", 1)[-1].strip() if error_type else ""
    if kind and not first.startswith(kind):
        first = f"{kind}: {first}" if first else kind
    return first[:MAX_SIGNATURE_CHARS]


def failing_tests(cases: Iterable[TestCase]) -> list[FailingTest]:
    """The failed and errored cases (names and signatures), capped per phase."""
    broken = [case for case in cases if case.status in {"failed", "errored"}]
    return [
        FailingTest(name=case.full_name[:500], signature=failure_signature(case.error_type, case.message))
        for case in broken[:MAX_FAILING_TESTS_PER_PHASE]
    ]
