"""Shared fixtures: a real PostgreSQL (DATABASE_URL or embedded), one fresh database per session; and the
`nodb` marker: such a test may not open a database connection, and the run ends by counting them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from testgenie.db import Database
from testgenie.migrate import migrate
from testgenie_local.postgres import PostgresServer, create_database, drop_database, provision

from tests.support.paths import E2E_SCENARIOS, EXAMPLES, MIGRATIONS
from tests.support.tools import pytest_runtest_makereport  # noqa: F401 - a hook: CI fails missing-tool skips


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # Outside pytest's basetemp: a concurrent pytest session prunes old basetemps, live cluster or not.
    folder = Path(tempfile.mkdtemp(prefix="testgenie-test-pg-"))
    server = provision(folder, ephemeral=True)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    url = create_database(postgres_server.admin_url)
    migrate(url, MIGRATIONS)
    yield url
    drop_database(postgres_server.admin_url, url)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A Database on a clean schema (tables emptied before each test)."""
    database = Database(database_url)
    database.run(
        lambda conn: conn.execute(
            "TRUNCATE suite_executions, suite_execution_phases, scenario_summaries, suite_requests"
        )
    )
    yield database
    database.close()


# Shared by the e2e and browser tests (each starts `testgenie serve` on a fresh database).
@pytest.fixture(scope="session")
def e2e_scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example scenarios plus the e2e ones (fast pass, fast fail, slow)."""
    root = tmp_path_factory.mktemp("scenarios")
    for source in (EXAMPLES, E2E_SCENARIOS):
        for scenario in source.iterdir():
            if scenario.is_dir():
                shutil.copytree(scenario, root / scenario.name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="session")
def fresh_database(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases on the test server (the stack migrates them itself)."""
    made: list[str] = []

    def make() -> str:
        url = create_database(postgres_server.admin_url, prefix="testgenie_e2e")
        made.append(url)
        return url

    yield make
    for url in made:
        drop_database(postgres_server.admin_url, url)


@pytest.fixture(autouse=True)
def _no_service_credentials_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never talk to real AWS: fake credentials and a fixed region for boto3/moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ.get("TEST_AWS_ACCESS_KEY_ID", "testing"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "TestGenie")


# -- db-free service tests (the `nodb` marker) ----------------------------------------------------

NODB_REFUSAL = "a test marked nodb opened a database connection"


@pytest.fixture(autouse=True)
def _nodb_opens_no_connection(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `nodb` test runs on the fakes: any connection it opens fails it at once."""
    if request.node.get_closest_marker("nodb") is None:
        return

    def refuse(*_: object, **__: object) -> NoReturn:
        raise AssertionError(NODB_REFUSAL)

    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", refuse)


_nodb_seconds: dict[str, float] = {}  # nodeid -> setup + call + teardown
_nodb_outcomes: dict[str, set[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "nodb" in report.keywords:
        _nodb_seconds[report.nodeid] = _nodb_seconds.get(report.nodeid, 0.0) + report.duration
        _nodb_outcomes.setdefault(report.nodeid, set()).add(f"{report.when}:{report.outcome}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    passed = [
        n
        for n, seen in _nodb_outcomes.items()
        if "call:passed" in seen and not any("failed" in o for o in seen)
    ]
    if passed:
        seconds = sum(_nodb_seconds[n] for n in passed)
        terminalreporter.write_line(
            f"db-free service tests: {len(passed)} passed in {seconds:.2f}s (setup + call + teardown, summed)"
        )
