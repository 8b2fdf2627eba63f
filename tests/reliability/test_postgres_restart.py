"""PostgreSQL restarted during a batch of 20 -> every request ends terminal with exactly one execution.

A PRIVATE embedded server (never the session's or the machine's) serves `testgenie serve`. Mid-batch,
while a run is in flight, it is stopped (fast shutdown: every connection is cut) and kept down until
that run has tried to write its progress and its result, then started again on the same data folder. SQS semantics do the rest: a transient failure is reported back and the
message is redelivered (the template's visibility timeout shortened to 2 s), and the reaper (every
second, LEASE_SECONDS=5) takes back the lease of a run whose final write was lost.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from testgenie.migrate import migrate
from testgenie_local.postgres import PostgresServer, create_database, provision

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import RunningStack, wait_for
from tests.reliability.conftest import (
    TERMINAL,
    make_scenario,
    query,
    request_states,
)

BATCH = 20


class PrivatePostgres:
    """An embedded server in its own folder that this test may stop and start at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: PostgresServer | None = provision(folder, database_url="")
        self.admin_url = self.server.admin_url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def start(self) -> None:
        if self.server is None:
            self.server = provision(self.folder, database_url="")
            assert self.server.admin_url == self.admin_url, "the restarted server moved"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    # A short path: the server's unix socket lives in this folder (108-byte limit on socket paths).
    with tempfile.TemporaryDirectory(prefix="tg-rel-pg-") as folder:
        server = PrivatePostgres(Path(folder))
        try:
            yield server
        finally:
            server.start()  # pgserver only cleans up a running server
            server.stop()


def states_or_none(url: str, ids: list[str]) -> dict[str, dict[str, object]] | None:
    with contextlib.suppress(psycopg.OperationalError):
        return request_states(url, ids)
    return None


@pytest.mark.timeout(240)
def test_postgres_restart_during_a_batch_loses_and_duplicates_nothing(
    private_postgres: PrivatePostgres, serve: Callable[..., RunningStack], tmp_path: Path
) -> None:
    url = create_database(private_postgres.admin_url, prefix="testgenie_restart")
    migrate(url, REPO_ROOT / "migrations")
    scenarios = tmp_path / "scenarios"
    # Each run lasts about a second, so the outage always finds one in flight.
    make_scenario(
        scenarios,
        "rel-steady",
        {
            "structure": {"requiredPaths": ["README.md"]},
            "lint": {"commands": [["python", "-c", "import time; time.sleep(1); print('lint ok')"]]},
        },
    )
    stack = serve(
        scenarios,
        url,
        visibility_timeout=2,
        LEASE_SECONDS="5",
        MAX_ATTEMPTS="3",
        DB_CONNECT_TIMEOUT_SECONDS="2",
    )

    ids = [stack.queue(scenarioName="rel-steady")["id"] for _ in range(BATCH)]

    def mid_batch() -> bool:
        states = request_states(url, ids).values()
        done = sum(1 for s in states if s["status"] in TERMINAL)
        return done >= 2 and any(s["status"] == "running" for s in states)

    wait_for(mid_batch, 120, "the batch to be under way, with a run in flight", interval=0.05)
    log_before = len(stack.log.read_bytes())
    private_postgres.stop()

    def in_flight_write_lost() -> bool:
        # "could not record progress" comes only from a run in flight; its final write follows at once.
        text = stack.log.read_bytes()[log_before:].decode(errors="replace")
        lost_progress = text.find("could not record progress")
        return lost_progress >= 0 and "transient failure" in text[lost_progress:]

    try:
        wait_for(in_flight_write_lost, 60, "the in-flight run to lose its writes", interval=0.02)
        assert stack.call("GET", "/health").status == 503
    finally:
        private_postgres.start()
    wait_for(lambda: stack.call("GET", "/health").status == 200, 60, "the stack to reconnect")

    def all_terminal() -> dict[str, dict[str, object]] | None:
        assert stack.process.poll() is None, stack.tail()
        states = states_or_none(url, ids)
        if states and all(s["status"] in TERMINAL for s in states.values()):
            return states
        return None

    final = wait_for(all_terminal, 180, "every request of the batch to end", interval=0.25)
    assert len(final) == BATCH
    executions = query(
        url,
        "SELECT suite_request_id::text AS id, outcome FROM suite_executions "
        "WHERE suite_request_id = ANY(%s::uuid[])",
        (ids,),
    )
    per_request: dict[str, list[str]] = {}
    for row in executions:
        per_request.setdefault(row["id"], []).append(row["outcome"])
    assert sorted(per_request) == sorted(ids), "a request ended without an execution"
    assert all(len(outcomes) == 1 for outcomes in per_request.values()), per_request
    assert query(url, "SELECT count(*) AS n FROM suite_executions") == [{"n": BATCH}]
    # A terminal status always agrees with its one execution (no status without the row, or vice versa).
    expected = {
        "completed": {"passed"},
        "failed": {"failed", "errored", "timeout"},
        "cancelled": {"cancelled"},
    }
    for request_id, state in final.items():
        assert per_request[request_id][0] in expected[str(state["status"])], (request_id, state)
    # The run whose final write was lost was taken back by the reaper and ran again (attempt 2).
    retried = [x for x in final.values() if int(str(x["attempts"])) > 1]
    assert retried, final
    print(
        "restart drill:",
        {s: sum(1 for x in final.values() if x["status"] == s) for s in TERMINAL},
        "retried after the reaper took the lease back:",
        len(retried),
    )
