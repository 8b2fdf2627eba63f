"""Load drill, run by hand (not in CI): N suite requests through the local stack, PostgreSQL
restarted in the middle.

    python -m benchmarks.load_restart [--requests 10000] [--outage 10] [--concurrency 2] [--direct]

`--direct`: the requests run on ExecuteFunction itself (COORDINATOR_FUNCTION_NAME empty), not as
durable executions (the default path, about half a second per phase more: docs/performance.md).

A PRIVATE embedded PostgreSQL (its own folder, never DATABASE_URL's server) serves `testgenie serve`
with the template as deployed. The requests are POSTed to /suite-requests over HTTP (4 clients at
once); once half of them are terminal the server is stopped (fast shutdown: every connection cut)
for `--outage` seconds and started again on the same data folder. Then the drill waits until every
request is terminal and reads the tables (what the database holds, not what the API says):

- posted:  POSTs answered 201 (a POST refused during the outage is retried until it is taken);
- drained: requests terminal;
- lost:    requests posted but not terminal, or terminal without an execution row (must be 0);
- doubled: requests with more than one execution row, or run more than once (must be 0);
- failed:  requests that ended `failed` (must be 0: a transient outage fails nothing);
- time to drain: from the first POST, and from the restart, until every request was terminal.

Prints one JSON line with those figures and the machine's load (docs/performance.md keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from testgenie.migrate import migrate
from testgenie_local.polling import wait_for
from testgenie_local.postgres import RestartablePostgres, create_database

from benchmarks.common import REPO_ROOT, load_note
from benchmarks.queue_throughput import SCENARIO, TERMINAL, Stack, write_scenario


def counts(url: str) -> dict[str, int]:
    """What the tables hold about the drill's requests."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT r.status, r.attempts, "
            "(SELECT count(*) FROM suite_executions e WHERE e.suite_request_id = r.id) AS executions "
            "FROM suite_requests r"
        ).fetchall()
    terminal = [row for row in rows if row[0] in TERMINAL]
    return {
        "requests": len(rows),
        "drained": len(terminal),
        "without_execution": sum(1 for row in terminal if row[2] == 0),
        "doubled": sum(1 for row in rows if row[2] > 1 or row[1] > 1),
        "failed": sum(1 for row in rows if row[0] == "failed"),
        "cancelled": sum(1 for row in rows if row[0] == "cancelled"),
    }


def terminal_or_none(url: str) -> int | None:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT count(*) FROM suite_requests WHERE status = ANY(%s)", (list(TERMINAL),)
            ).fetchone()
        return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return None  # the server is down (the outage)


def post_all(stack: Stack, requests: int, posted: list[int]) -> None:
    """POST every request, each with its own Idempotency-Key: one refused or unanswered while the
    database is down is sent again a moment later, and never queued twice."""
    lock = threading.Lock()

    def post(index: int) -> None:
        body = json.dumps({"scenarioName": SCENARIO}).encode()
        headers = {"content-type": "application/json", "Idempotency-Key": f"load-drill-{index}"}
        for _attempt in range(600):
            request = urllib.request.Request(f"{stack.api}/suite-requests", body, headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the local stack
                    if answer.status in (200, 201):
                        with lock:
                            posted[0] += 1
                        return
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                pass
            time.sleep(1)
        raise RuntimeError("a POST was refused for 10 minutes")

    with ThreadPoolExecutor(max_workers=4) as clients:
        list(clients.map(post, range(requests)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--concurrency", type=int, default=2, help="the stack's pollers (default 2)")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="give up draining after this")
    parser.add_argument("--direct", action="store_true", help="run on ExecuteFunction, not durably")
    args = parser.parse_args()
    if args.direct:
        os.environ["COORDINATOR_FUNCTION_NAME"] = ""  # the stack's environment (Stack copies os.environ)

    with tempfile.TemporaryDirectory(prefix="tg-load-") as tmp:
        folder = Path(tmp)
        server = RestartablePostgres(folder / "pg")
        try:
            url = create_database(server.admin_url, prefix="testgenie_load")
            migrate(url, REPO_ROOT / "migrations")
            scenarios = write_scenario(folder / "scenarios")
            stack = Stack(url, scenarios, folder, args.concurrency)
            try:
                figures = drill(server, stack, url, args)
            finally:
                stack.stop()
        finally:
            server.start()  # the embedded server cleans up only when running
            server.stop()
    print(json.dumps(figures))
    ok = figures["lost"] == 0 and figures["doubled"] == 0 and figures["failed"] == 0
    raise SystemExit(0 if ok else 1)


def drill(server: RestartablePostgres, stack: Stack, url: str, args: argparse.Namespace) -> dict[str, Any]:
    posted = [0]
    started = time.monotonic()
    poster = threading.Thread(target=post_all, args=(stack, args.requests, posted), daemon=True)
    poster.start()
    wait_for(
        lambda: (terminal_or_none(url) or 0) >= args.requests // 2,
        args.timeout,
        "half the requests to end",
        1.0,
    )
    server.stop()
    stopped_at = time.monotonic()
    time.sleep(args.outage)
    server.start()
    restarted_at = time.monotonic()
    poster.join(timeout=args.timeout)
    wait_for(lambda: terminal_or_none(url) == args.requests, args.timeout, "every request to end", 1.0)
    drained_at = time.monotonic()
    found = counts(url)
    return {
        "requests": args.requests,
        "posted": posted[0],
        "drained": found["drained"],
        "lost": args.requests - found["drained"] + found["without_execution"],
        "doubled": found["doubled"],
        "failed": found["failed"],
        "cancelled": found["cancelled"],
        "outage_s": round(restarted_at - stopped_at, 1),
        "stopped_after_s": round(stopped_at - started, 1),
        "drain_s": round(drained_at - started, 1),
        "drain_after_restart_s": round(drained_at - restarted_at, 1),
        "pollers": args.concurrency,
        "path": "direct" if args.direct else "durable",
        "cores": os.cpu_count(),
        "load": load_note(),
    }


if __name__ == "__main__":
    main()
