"""End-to-end fixtures: `testgenie serve` as a subprocess on a free port, spoken to over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.stack import RunningStack, start_stack

# The scenarios' own tests (a vendored third-party suite among them) run in the stack, not here.
collect_ignore_glob = ["scenarios/*"]


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, e2e_scenarios: Path, fresh_database: Callable[[], str]
) -> Iterator[RunningStack]:
    """One stack for the HTTP tests; one poller thread so a second request stays queued behind a run."""
    running = start_stack(
        tmp_path_factory.mktemp("stack"), e2e_scenarios, fresh_database(), TESTGENIE_POLLER_CONCURRENCY="1"
    )
    yield running
    code = running.stop()
    assert code == 0, running.tail()
