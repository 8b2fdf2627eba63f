"""JUnit XML (pytest, go-junit-report, jest-junit, surefire …) -> test cases and counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from testgenie.orchestrator.models import TestCounts
from testgenie.orchestrator.runners.base import TestCase, TestStatus

MAX_REPORT_BYTES = 50 * 1024 * 1024


_OUTCOME_ELEMENTS: tuple[tuple[str, TestStatus], ...] = (
    ("failure", "failed"),
    ("error", "errored"),
    ("skipped", "skipped"),
)


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
        for child, child_status in _OUTCOME_ELEMENTS:
            element = case.find(child)
            if element is not None:
                status = child_status
                message = element.get("message") or (element.text or "").strip()
                break
        cases.append(
            TestCase(
                name=case.get("name", ""),
                classname=case.get("classname", ""),
                status=status,
                message=message[:500],
                phase=phase,
            )
        )
    return cases


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
