"""Services wired for tests."""

from __future__ import annotations

from typing import Any

from testgenie.db import Database
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.queue.publisher import SuiteRequestPublisher
from testgenie.queue.service import SuiteRequestService


def suite_requests(
    db: Database, publisher: SuiteRequestPublisher | None = None, **options: Any
) -> SuiteRequestService:
    """SuiteRequestService wired with the real execution repository (as bootstrap does)."""
    options.setdefault("executions", SuiteExecutionRepository())
    return SuiteRequestService(db, publisher, **options)
