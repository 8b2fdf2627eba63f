"""PostgreSQL stopped for 10 s in the middle of a batch of 500 -> every request completes within the
outage plus 60 s of the restart, none runs twice, none fails, none is lost.

A PRIVATE embedded server (never the session's or the machine's) serves `testgenie serve` with the
template as deployed: 90-minute visibility timeout, 960 s lease. Mid-batch, while a run is in flight,
it is stopped (fast shutdown: every connection is cut) and kept down for OUTAGE_SECONDS (and at least
until that run has tried to record its result), then started again on the same data folder. The worker holding the result retries
its write with backoff instead of dropping it (so its lease never has to expire), and records that
failed for a transient reason come back after seconds (ChangeMessageVisibility), not 90 minutes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from testgenie.migrate import migrate
from testgenie_local.polling import wait_for
from testgenie_local.postgres import RestartablePostgres, create_database

from tests.support.drills import TERMINAL, make_scenario, query, request_states
from tests.support.paths import REPO_ROOT
from tests.support.stack import RunningStack

BATCH = 500
OUTAGE_SECONDS = 10
# Every request terminal within the outage plus this after the restart (never a lease or 90 minutes).
RECOVERY_SECONDS = 60
# The bound on draining the rest of the batch: far above its pace on a busy machine, below pytest's.
DRAIN_SECONDS = 900


def states_or_none(url: str, ids: list[str]) -> dict[str, dict[str, object]] | None:
    with contextlib.suppress(psycopg.OperationalError):
        return request_states(url, ids)
    return None


@pytest.mark.timeout(2000)  # 500 runs through the local stack; every wait below is bounded shorter
def test_postgres_restart_during_a_batch_loses_repeats_and_fails_nothing(
    private_postgres: RestartablePostgres, serve: Callable[..., RunningStack], tmp_path: Path
) -> None:
    url = create_database(private_postgres.admin_url, prefix="testgenie_restart")
    migrate(url, REPO_ROOT / "migrations")
    scenarios = tmp_path / "scenarios"
    # Each run lasts a moment, so the outage always finds one in flight.
    make_scenario(
        scenarios,
        "rel-steady",
        {
            "structure": {"requiredPaths": ["README.md"]},
            "lint": {"commands": [["python", "-c", "print('lint ok')"]]},
        },
    )
    # The direct path: a run's final write held through the outage by ExecuteFunction itself. (The
    # durable path's record is a step: a failed write is retried by the durable service.)
    stack = serve(
        scenarios,
        url,
        MAX_ATTEMPTS="3",
        DB_CONNECT_TIMEOUT_SECONDS="2",
        COORDINATOR_FUNCTION_NAME="",
        TESTGENIE_POLLER_CONCURRENCY="4",
    )

    ids = [stack.queue(scenarioName="rel-steady")["id"] for _ in range(BATCH)]
    queued_at = time.monotonic()

    running: list[str] = []  # at the last look before the stop

    def mid_batch() -> bool:
        states = request_states(url, ids)
        done = sum(1 for s in states.values() if s["status"] in TERMINAL)
        running[:] = [i for i, s in states.items() if s["status"] == "running"]
        return done >= BATCH // 2 and bool(running)

    wait_for(mid_batch, 600, "half the batch done, with a run in flight", interval=0.05)
    first_half = time.monotonic() - queued_at
    log_before = len(stack.log.read_bytes())
    private_postgres.stop()
    stopped_at = time.monotonic()
    caught = list(running)

    def result_held_through_the_outage() -> bool:
        # The in-flight run could not record its result and keeps it, retrying.
        text = stack.log.read_bytes()[log_before:].decode(errors="replace")
        return "recording the execution failed; retrying" in text

    try:
        wait_for(result_held_through_the_outage, 60, "the in-flight run to retry its write", interval=0.02)
        assert stack.call("GET", "/health").status == 503
        time.sleep(max(0.0, stopped_at + OUTAGE_SECONDS - time.monotonic()))  # the outage lasts 10 s
    finally:
        private_postgres.start()
    back_at = time.monotonic()
    outage = back_at - stopped_at

    def terminal(of: list[str]) -> Callable[[], dict[str, dict[str, object]] | None]:
        def check() -> dict[str, dict[str, object]] | None:
            assert stack.process.poll() is None, stack.tail()
            states = states_or_none(url, of)
            return states if states and all(s["status"] in TERMINAL for s in states.values()) else None

        return check

    # The runs the outage caught are terminal within the outage + 60 s of the restart: their workers
    # kept their results and retried (before the fix, such a run waited out its 960 s lease and a
    # record that failed waited 90 minutes).
    wait_for(terminal(caught), outage + RECOVERY_SECONDS, "the runs in flight to end", interval=0.25)
    caught_in = time.monotonic() - back_at
    # Then the rest of the batch drains (its pace is the machine's, so it is printed, not asserted).
    final = wait_for(terminal(ids), DRAIN_SECONDS, "the whole batch to end", interval=0.25)
    recovered_in = time.monotonic() - back_at
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
    assert {str(s["status"]) for s in final.values()} == {"completed"}, "a request failed"
    assert all(int(str(s["attempts"])) == 1 for s in final.values()), "a run was repeated"
    print(
        "restart drill:",
        {
            "requests": BATCH,
            "first half (s)": round(first_half, 1),
            "outage (s)": round(outage, 1),
            "runs caught": len(caught),
            "caught runs terminal after restart (s)": round(caught_in, 1),
            "all terminal after restart (s)": round(recovered_in, 1),
            "second half vs first half (s)": (
                round(time.monotonic() - stopped_at - outage, 1),
                round(first_half, 1),
            ),
        },
    )
