"""History read routes at scale: the HistoryFunction handler against what PostgreSQL must do anyway.

Generates N executions over S scenarios inside PostgreSQL (benchmarks/history_data.py: failing
tests, digests, phase rows, summaries), then for every read route measures, in the same run:

- the handler, warm and in-process, invoked with an API Gateway v2 event;
- the plain fetch: the route's own SQL through a bare psycopg connection (it selects plain columns:
  the JSON is built in the function), p50 and the ratio handler / fetch;
- the floor: a bare Powertools resolver with validation and the logger answering a constant;
- the server side: EXPLAIN ANALYZE execution time of the route's SQL against a fetch of the same
  rows by primary key;
- each plan's node types (no Seq Scan; no Sort over more than a page or a window).

Handler, fetch and floor samples are interleaved (each sees the same machine load) in --rounds
rounds; every figure is the median of its rounds' figures, so one noisy stretch does not decide it.
The load average is printed with every table: recorded figures are those of an idle machine.

With --growth-from R (default rows / 10) it first measures at R rows, then loads the rest and
measures again: a flat route's p50 at N is within 1.3 x its p50 at R.

    python -m benchmarks.history [--rows 1000000] [--scenarios 1000] [--samples 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.common import (
    fresh_database,
    http_event,
    load_note,
    median,
    percentile,
    print_table,
    record_figure,
)
from benchmarks.history_data import generate_history, generate_suite_requests, plan_nodes, settle

PAGE_TARGET = 2.0  # handler p50 <= 2.0 x the plain fetch p50 (page routes)
SINGLE_TARGET = 1.3  # (handler - fetch) <= 1.3 x the floor (single-row routes)
SERVER_TARGET = 1.2  # server execution time <= 1.2 x a primary-key fetch of the same rows
FLAT_TARGET = 1.3  # p50 at N rows <= 1.3 x p50 at the smaller size


@dataclass
class Route:
    name: str
    kind: str  # "page" | "single"
    event: dict[str, Any]
    sql: str
    params: list[Any] | dict[str, Any]
    key_table: str = "suite_executions e"  # for the primary-key fetch of the same rows


@dataclass
class Measured:
    kind: str
    handler_p50: float  # medians over the rounds of each round's p50
    fetch_p50: float
    floor_p50: float
    ratio: float  # median over the rounds of handler p50 / fetch p50 (pages) or (h - f) / floor
    server_ms: float
    pk_server_ms: float
    server_ratio: float  # median over the rounds of server ms / primary-key fetch ms
    nodes: list[str]


def _routes(raw: Any, scenarios: int) -> list[Route]:
    from testgenie.history import repository as history_sql
    from testgenie.history.filters import ExecutionFilter
    from testgenie.paging import Keyset
    from testgenie.queue.models import SuiteRequestFilter

    middle = raw.execute(
        "SELECT completed_at, id FROM suite_executions ORDER BY completed_at DESC, id DESC "
        "OFFSET (SELECT count(*) / 2 FROM suite_executions) LIMIT 1"
    ).fetchone()
    # The newest run that has a previous one (compare ?with=previous answers it), as a dashboard opens it.
    newest = raw.execute(
        "SELECT e.id, e.scenario_name FROM suite_executions e WHERE EXISTS (SELECT 1 FROM suite_executions x "
        "WHERE x.scenario_name = e.scenario_name AND x.completed_at < e.completed_at) "
        "ORDER BY e.completed_at DESC, e.id DESC LIMIT 1"
    ).fetchone()
    if newest is None:
        raise SystemExit("every scenario has a single run: load more executions than --scenarios")
    execution_id, scenario = str(newest[0]), newest[1]
    from testgenie.paging import encode_cursor

    cursor = encode_cursor("executions", middle[0], middle[1])
    after = (middle[0], str(middle[1]))

    def page(name: str, query: dict[str, str], where: ExecutionFilter, keyset: Keyset | None = None) -> Route:
        sql, params = history_sql.executions_page_sql(where, keyset or Keyset())
        return Route(
            name,
            "page",
            http_event("GET", "/api/v1/executions", "GET /api/v1/executions", query),
            sql,
            params,
        )

    from testgenie.queue.repository import suite_requests_page_sql

    sr_sql, sr_params = suite_requests_page_sql(SuiteRequestFilter(), Keyset())
    scen_sql, scen_params = history_sql.QUERIES["scenarios"], {"limit": 51}
    get = f"/api/v1/executions/{execution_id}"
    path = {"executionId": execution_id}
    return [
        page("executions, first page", {}, ExecutionFilter()),
        page("executions, cursor mid-history", {"cursor": cursor}, ExecutionFilter(), Keyset(after=after)),
        page("executions ?scenario", {"scenario": scenario}, ExecutionFilter(scenario=scenario)),
        page("executions ?outcome=failed", {"outcome": "failed"}, ExecutionFilter(outcomes=("failed",))),
        page(
            "executions ?outcome=3 values",
            {"outcome": "failed,errored,timeout"},
            ExecutionFilter(outcomes=("failed", "errored", "timeout")),
        ),
        page(
            "executions ?phase=unit&phaseStatus=failed",
            {"phase": "unit", "phaseStatus": "failed"},
            ExecutionFilter(phase="unit", phase_statuses=("failed",)),
        ),
        page(
            "executions ?scenario&phase&phaseStatus",
            {"scenario": scenario, "phase": "unit", "phaseStatus": "failed"},
            ExecutionFilter(scenario=scenario, phase="unit", phase_statuses=("failed",)),
        ),
        Route(
            "suite-requests, first page",
            "page",
            http_event("GET", "/api/v1/suite-requests", "GET /api/v1/suite-requests"),
            sr_sql,
            sr_params,
            "suite_requests r",
        ),
        Route(
            "scenarios, first page",
            "page",
            http_event("GET", "/api/v1/scenarios", "GET /api/v1/scenarios"),
            scen_sql,
            scen_params,
            "scenario_summaries s",
        ),
        Route(
            "scenario stats, window 30",
            "page",
            http_event(
                "GET",
                f"/api/v1/scenarios/{scenario}/stats",
                "GET /api/v1/scenarios/{name}/stats",
                path_params={"name": scenario},
            ),
            history_sql.QUERIES["stats_window"],
            {"scenario": scenario, "window": 30},
        ),
        Route(
            "get by id",
            "single",
            http_event("GET", get, "GET /api/v1/executions/{executionId}", path_params=path),
            history_sql.QUERIES["get_execution"],
            {"id": execution_id},
        ),
        Route(
            "latest",
            "single",
            http_event("GET", "/api/v1/executions/latest", "GET /api/v1/executions/latest"),
            history_sql.QUERIES["latest_execution"],
            {},
        ),
        Route(
            "compare ?with=previous",
            "single",
            http_event(
                "GET", f"{get}/compare", "GET /api/v1/executions/{executionId}/compare", path_params=path
            ),
            history_sql.QUERIES["compare_with_previous"],
            {"id": execution_id},
        ),
    ]


def _floor_handler() -> Callable[[], Any]:
    """A bare Powertools resolver with validation and the logger answering a constant."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.logging import correlation_paths
    from testgenie.observability import logger
    from testgenie_local.runtime import FakeLambdaContext

    app = APIGatewayHttpResolver(enable_validation=True)

    @app.get("/api/v1/constant")
    def constant() -> dict[str, Any]:
        return {"items": [], "count": 0}

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    event = http_event("GET", "/api/v1/constant", "GET /api/v1/constant")
    context = FakeLambdaContext(function_name="Floor", timeout_seconds=900)
    return lambda: handler(event, context)


def _ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _rounds(samples: int, rounds: int, *fns: Callable[[], Any]) -> list[list[float]]:
    """Per round, each function's p50 over `samples // rounds` interleaved calls (after a warm-up)."""
    for _ in range(20):
        for fn in fns:
            fn()
    per_round = max(5, samples // rounds)
    found = []
    for _ in range(rounds):
        times: list[list[float]] = [[] for _ in fns]
        for _ in range(per_round):
            for index, fn in enumerate(fns):
                times[index].append(_ms(fn))
        found.append([percentile(column, 0.5) for column in times])
    return found


def _server_ms(raw: Any, sql: str, params: list[Any]) -> float:
    # TIMING OFF: per-node timing (clock reads for every row of every node) would charge a plan with
    # more nodes for the measurement itself; the total execution time is still measured.
    row = raw.execute(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}", params).fetchone()
    return float(row[0][0]["Execution Time"])


def _server_rounds(raw: Any, route: Route, pk: tuple[str, list[Any]], rounds: int) -> list[list[float]]:
    """Per round, the median of 15 interleaved EXPLAIN ANALYZE times of the route's SQL and the pk fetch."""
    found = []
    for _ in range(rounds):
        mine, theirs = [], []
        for _ in range(15):
            mine.append(_server_ms(raw, route.sql, route.params))
            theirs.append(_server_ms(raw, *pk))
        found.append([percentile(mine, 0.5), percentile(theirs, 0.5)])
    return found


def _pk_fetch(raw: Any, route: Route) -> tuple[str, list[Any]]:
    """The same rows' columns by primary key: what any query must at least do for this answer."""
    from testgenie.history import repository as history_sql
    from testgenie.queue.repository import QUERIES as REQUEST_QUERIES

    rows = raw.execute(route.sql, route.params).fetchall()
    keys = list(dict.fromkeys(row[0] for row in rows))
    if route.name.startswith("compare"):  # the execution and the run before it (base_id, 5th column)
        keys += [row[4] for row in rows if row[4] is not None]
    if route.name.startswith("compare"):
        return (
            "SELECT e.id, e.scenario_name, e.source_digest, e.phases FROM suite_executions e WHERE e.id = ANY(%s)",
            [keys],
        )
    if route.key_table.startswith("suite_requests"):
        return f"SELECT {REQUEST_QUERIES['request_columns']} FROM suite_requests r WHERE r.id = ANY(%s)", [
            keys
        ]
    if route.key_table.startswith("scenario_summaries"):
        columns = history_sql.QUERIES["scenario_columns"]
        return f"SELECT {columns} FROM scenario_summaries s WHERE s.scenario_name = ANY(%s)", [keys]
    if route.name.startswith("scenario stats"):
        return (
            "SELECT w.id, w.completed_at, w.outcome, w.source_digest, p.name, p.status, p.duration_ms, "
            "p.classification, p.failing_tests FROM suite_executions w JOIN suite_execution_phases p "
            "ON p.execution_id = w.id WHERE w.id = ANY(%s)",
            [keys],
        )
    columns = history_sql.QUERIES["result_columns" if route.kind == "single" else "summary_columns"]
    return f"SELECT {columns} FROM suite_executions e WHERE e.id = ANY(%s::uuid[])", [[str(k) for k in keys]]


def measure(url: str, scenarios: int, samples: int, rounds: int) -> dict[str, Measured]:
    import psycopg
    from psycopg.rows import dict_row

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from testgenie import bootstrap
    from testgenie.settings import Settings
    from testgenie_local.runtime import FakeLambdaContext

    history_app = importlib.import_module("history_app")
    history_app.environment.use(bootstrap.build(Settings(database_url=url)))
    context = FakeLambdaContext(function_name="HistoryFunction", timeout_seconds=900)
    floor = _floor_handler()
    raw = psycopg.connect(url, autocommit=True)
    plans = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    found: dict[str, Measured] = {}
    for route in _routes(raw, scenarios):

        def via_handler(r: Route = route) -> None:
            answer = history_app.lambda_handler(r.event, context)
            if answer["statusCode"] != 200:
                raise RuntimeError(f"{r.name}: {answer['statusCode']}: {answer.get('body')}")

        def via_fetch(r: Route = route) -> None:
            raw.execute(r.sql, r.params).fetchall()

        # Interleaved (handler, fetch, floor): all three see the same machine load.
        client = _rounds(samples, rounds, via_handler, via_fetch, floor)
        if route.kind == "page":
            ratios = [h / f for h, f, _ in client]
        else:
            ratios = [(h - f) / fl for h, f, fl in client]
        server = _server_rounds(raw, route, _pk_fetch(raw, route), rounds)
        found[route.name] = Measured(
            route.kind,
            median([h for h, _, _ in client]),
            median([f for _, f, _ in client]),
            median([fl for _, _, fl in client]),
            median(ratios),
            median([mine for mine, _ in server]),
            median([pk for _, pk in server]),
            median([mine / pk for mine, pk in server]),
            plan_nodes(plans, route.sql, route.params),
        )
    raw.close()
    plans.close()
    return found


def _verdicts(name: str, m: Measured) -> tuple[str, str, bool]:
    if m.kind == "page":
        met = m.ratio <= PAGE_TARGET
        record_figure("history", f"{name}: handler/fetch p50", m.ratio, f"<= {PAGE_TARGET}", met)
        return f"{m.ratio:.2f}", f"<= {PAGE_TARGET} x fetch", met
    met = m.ratio <= SINGLE_TARGET
    record_figure("history", f"{name}: (handler-fetch)/floor", m.ratio, f"<= {SINGLE_TARGET}", met)
    return f"{m.handler_p50 / m.fetch_p50:.2f} ({m.ratio:.2f} x floor)", f"<= {SINGLE_TARGET} x floor", met


def _plan_note(nodes: list[str]) -> str:
    bad = [n for n in nodes if n == "Seq Scan"]
    return ">".join(dict.fromkeys(nodes)) + (" SEQ SCAN!" if bad else "")


def report(size: int, found: dict[str, Measured], before: dict[str, Measured] | None, load: str) -> None:
    rows = []
    for name, m in found.items():
        ratio, target, met = _verdicts(name, m)
        server_met = m.server_ratio <= SERVER_TARGET
        record_figure(
            "history", f"{name}: server/pk-fetch", m.server_ratio, f"<= {SERVER_TARGET}", server_met
        )
        flat = "-"
        if before is not None and name in before:
            growth = m.handler_p50 / before[name].handler_p50
            flat_met = growth <= FLAT_TARGET
            record_figure("history", f"{name}: p50 growth", growth, f"<= {FLAT_TARGET}", flat_met)
            flat = f"{growth:.2f}{'' if flat_met else ' MISSED'}"
        rows.append(
            [
                name,
                f"{m.handler_p50:.3f}",
                f"{m.fetch_p50:.3f}",
                ratio + ("" if met else " MISSED"),
                target,
                f"{m.server_ms:.3f}/{m.pk_server_ms:.3f}: {m.server_ratio:.2f}"
                + ("" if server_met else " MISSED"),
                flat,
                _plan_note(m.nodes),
            ]
        )
    floor = median([m.floor_p50 for m in found.values()])
    print_table(
        f"history at {size} executions (p50 ms, median of rounds; floor = bare resolver+validation+logger "
        f"{floor:.3f} ms; {load})",
        ["route", "handler", "fetch", "handler/fetch", "target", "server ms / pk fetch", "growth", "plan"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200, help="samples per route and size")
    parser.add_argument("--rounds", type=int, default=5, help="the samples are split into this many rounds")
    parser.add_argument(
        "--growth-from", type=int, default=None, help="first size measured (default rows / 10)"
    )
    args = parser.parse_args()
    first = args.growth_from or max(args.rows // 10, args.scenarios)
    import psycopg
    from psycopg.rows import dict_row

    with fresh_database() as url:
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        started = time.perf_counter()
        generate_history(conn, 0, first, args.scenarios)
        generate_suite_requests(conn, 0, first // 10)
        settle(conn)
        print(
            f"loaded {first} executions over {args.scenarios} scenarios in {time.perf_counter() - started:.1f} s"
        )
        load = load_note()
        small = measure(url, args.scenarios, args.samples, args.rounds)
        report(first, small, None, f"{load} .. {load_note()}")
        started = time.perf_counter()
        generate_history(conn, first, args.rows - first, args.scenarios)
        generate_suite_requests(conn, first // 10, (args.rows - first) // 10)
        settle(conn)
        print(f"\nloaded {args.rows - first} more executions in {time.perf_counter() - started:.1f} s")
        conn.close()
        load = load_note()
        large = measure(url, args.scenarios, args.samples, args.rounds)
        report(args.rows, large, small, f"{load} .. {load_note()}")


if __name__ == "__main__":
    main()
