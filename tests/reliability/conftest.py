"""Fault drills: real PostgreSQL, moto, real processes; every wait is a bounded poll.

Fixtures here: fresh databases, `testgenie serve` subprocesses and a cutting proxy; the helpers they
share are in tests/support/drills.py.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from testgenie.migrate import migrate
from testgenie_local.postgres import PostgresServer, RestartablePostgres, create_database, drop_database

from tests.reliability.tcp_proxy import CuttingProxy
from tests.support.drills import drill_template
from tests.support.paths import MIGRATIONS
from tests.support.stack import RunningStack, start_stack


@pytest.fixture
def new_database(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Makes fresh, migrated databases on the session's server; dropped after the test."""
    made: list[str] = []

    def make() -> str:
        url = create_database(postgres_server.admin_url, prefix="testgenie_rel")
        migrate(url, MIGRATIONS)
        made.append(url)
        return url

    yield make
    for url in made:
        drop_database(postgres_server.admin_url, url)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., RunningStack]]:
    """Starts `testgenie serve` subprocesses (reaper every second); each is stopped after the test.

    `visibility_timeout` (seconds) runs the stack on a copy of the template whose queues redeliver
    that soon: the queue's attribute must hold before the pollers' first long poll, so it is set
    at creation, never changed afterwards.
    """
    running: list[RunningStack] = []

    def start(
        scenarios: Path, database_url: str, *, visibility_timeout: int | None = None, **env: str
    ) -> RunningStack:
        workdir = tmp_path / f"stack{len(running)}"
        template = drill_template(workdir, visibility_timeout) if visibility_timeout is not None else None
        stack = start_stack(workdir, scenarios, database_url, template=template, env=env)
        running.append(stack)
        return stack

    yield start
    for stack in running:
        with contextlib.suppress(AssertionError):  # a stack killed after the grace period
            stack.stop()


@pytest.fixture
def cutting_proxy(database_url: str) -> Iterator[CuttingProxy]:
    """A proxy to the session's database that can lose the server's answer to a chosen statement."""
    proxy = CuttingProxy(database_url)
    yield proxy
    proxy.close()


@pytest.fixture
def private_postgres() -> Iterator[RestartablePostgres]:
    # A short path: the server's unix socket lives in this folder (108-byte limit on socket paths).
    with tempfile.TemporaryDirectory(prefix="tg-rel-pg-") as folder:
        server = RestartablePostgres(Path(folder))
        try:
            yield server
        finally:
            server.start()  # pgserver only cleans up a running server
            server.stop()
