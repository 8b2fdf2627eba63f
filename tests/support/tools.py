"""Skips for a missing tool, and the hook that fails them under CI.

A test may skip only because a tool it needs is not on this machine (the tools venv, Python 3.13,
bubblewrap, Chromium), never because the feature it tests is broken. Such a skip's reason starts
with MISSING_TOOL; with CI=true the hook below turns it into a failure, so CI cannot pass without
having run every test (.ci/run installs the tools).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any, NoReturn

import pytest

MISSING_TOOL = "missing tool: "


def missing_tool(what: str) -> NoReturn:
    """Skip this test: `what` (a tool and how to get it) is not on this machine."""
    pytest.skip(MISSING_TOOL + what)


def unless_tool(available: bool, what: str) -> pytest.MarkDecorator:
    """A skipif mark for a missing tool (fails under CI like missing_tool)."""
    return pytest.mark.skipif(not available, reason=MISSING_TOOL + what)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_reason(report: pytest.TestReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and in_ci() and MISSING_TOOL in skip_reason(report):
        report.outcome = "failed"
        report.longrepr = f"CI=true and a tool is missing, so this test did not run: {skip_reason(report)}"
