"""History read path: the history handler (warm, in-process) vs the raw SQL of the same queries.

Loads N executions over 200 scenarios with the repository's COPY path, then, for each query, takes
interleaved samples of (a) the HistoryFunction handler invoked with an API Gateway v2 event and
(b) the same SQL through a bare psycopg connection. Prints p50 / p99 of both, the p50 ratio
handler / raw (target <= 1.5), and each query's plan (index scan, no Sort).

    python -m benchmarks.history [--rows 100000] [--samples 300]
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import fresh_database, http_event, percentile, print_table, record_figure

TARGET_RATIO = 1.5


def _records(rows: int, scenarios: int) -> Iterator[Any]:
    from testgenie.orchestrator.models import Outcome, PhaseResult, PhaseStatus
    from testgenie.records import SuiteExecutionRecord

    base = datetime(2026, 1, 1, tzinfo=UTC)
    names = ["structure", "docs", "unit"]
    for i in range(rows):
        completed = base + timedelta(seconds=i // 3)  # equal timestamps on purpose: the tiebreaker matters
        failed = i % 7 == 0
        phases = [
            PhaseResult(
                name=name,
                status=PhaseStatus.FAILED if failed and name == "unit" else PhaseStatus.PASSED,
                duration_seconds=1,
                duration_ms=420,
                log_path=f"executions/x/{name}.log",
            )
            for name in names
        ]
        yield SuiteExecutionRecord(
            id=uuid.uuid4(),
            scenario_name=f"scenario-{i % scenarios:03d}",
            preset_used="quick",
            success=not failed,
            phases=phases,
            started_at=completed - timedelta(seconds=2),
            completed_at=completed,
            outcome=Outcome.FAILED if failed else Outcome.PASSED,
        )


def _load(url: str, rows: int, scenarios: int) -> float:
    from testgenie.db import Database
    from testgenie.execution.repository import SuiteExecutionRepository

    started = time.perf_counter()
    db = Database(url)
    repo = SuiteExecutionRepository()
    db.run(lambda conn: repo.copy_many(conn, _records(rows, scenarios)))
    db.run(lambda conn: conn.execute("ANALYZE suite_executions"))
    db.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()

    with fresh_database() as url:
        load_seconds = _load(url, args.rows, args.scenarios)
        print(
            f"loaded {args.rows} executions over {args.scenarios} scenarios with COPY in {load_seconds:.1f} s"
        )
        rows = run(url, args.samples)
    print_table(
        "history: handler (warm, in-process) vs raw SQL through psycopg, same run",
        [
            "query",
            "handler p50 ms",
            "handler p99 ms",
            "raw p50 ms",
            "raw p99 ms",
            "ratio p50",
            "target",
            "plan",
        ],
        rows,
    )


def run(url: str, samples: int) -> list[list[str]]:
    import psycopg
    from psycopg.rows import dict_row

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from testgenie import bootstrap
    from testgenie.execution import repository
    from testgenie_local.runtime import FakeLambdaContext

    bootstrap.reset()
    history_app = importlib.import_module("history_app")
    raw = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    some = raw.execute("SELECT id, scenario_name FROM suite_executions ORDER BY id LIMIT 1").fetchone()
    assert some is not None
    execution_id, scenario = str(some["id"]), some["scenario_name"]
    cases: list[tuple[str, dict[str, Any], str, tuple[Any, ...]]] = [
        (
            "list, first page",
            http_event("GET", "/api/v1/executions", "GET /api/v1/executions"),
            repository.list_sql(by_scenario=False),
            (50, 0),
        ),
        (
            "list, offset 1000",
            http_event("GET", "/api/v1/executions", "GET /api/v1/executions", {"offset": "1000"}),
            repository.list_sql(by_scenario=False),
            (50, 1000),
        ),
        (
            "list scenario, first page",
            http_event("GET", "/api/v1/executions", "GET /api/v1/executions", {"scenario": scenario}),
            repository.list_sql(by_scenario=True),
            (scenario, 50, 0),
        ),
        (
            "list scenario, offset 1000",
            http_event(
                "GET",
                "/api/v1/executions",
                "GET /api/v1/executions",
                {"scenario": scenario, "offset": "1000"},
            ),
            repository.list_sql(by_scenario=True),
            (scenario, 50, 1000),
        ),
        (
            "get by id",
            http_event(
                "GET",
                f"/api/v1/executions/{execution_id}",
                "GET /api/v1/executions/{executionId}",
                path_params={"executionId": execution_id},
            ),
            repository.GET_SQL,
            (execution_id,),
        ),
        (
            "latest",
            http_event("GET", "/api/v1/executions/latest", "GET /api/v1/executions/latest"),
            repository.latest_sql(by_scenario=False),
            (),
        ),
    ]
    context = FakeLambdaContext(function_name="HistoryFunction", timeout_seconds=900)
    table: list[list[str]] = []
    for name, event, sql, params in cases:

        def via_handler(e: dict[str, Any] = event, label: str = name) -> None:
            answer = history_app.lambda_handler(e, context)
            if answer["statusCode"] != 200:
                raise RuntimeError(f"{label}: handler answered {answer['statusCode']}: {answer.get('body')}")

        def via_sql(q: str = sql, p: tuple[Any, ...] = params) -> None:
            raw.execute(q, p).fetchall()

        handler_ms, raw_ms = _interleaved(via_handler, via_sql, samples)
        plan = "\n".join(r["QUERY PLAN"] for r in raw.execute(f"EXPLAIN {sql}", params).fetchall())
        plan_note = ("index" if "Index" in plan else "NO INDEX") + (
            ", Sort!" if "Sort" in plan else ", no Sort"
        )
        ratio = percentile(handler_ms, 0.5) / percentile(raw_ms, 0.5)
        record_figure(
            "history", f"{name}: handler/raw p50", ratio, f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO
        )
        table.append(
            [
                name,
                f"{percentile(handler_ms, 0.5):.3f}",
                f"{percentile(handler_ms, 0.99):.3f}",
                f"{percentile(raw_ms, 0.5):.3f}",
                f"{percentile(raw_ms, 0.99):.3f}",
                f"{ratio:.2f}",
                f"<= {TARGET_RATIO}",
                plan_note,
            ]
        )
    raw.close()
    return table


def _interleaved(
    a: Callable[[], None], b: Callable[[], None], samples: int
) -> tuple[list[float], list[float]]:
    for _ in range(20):  # warm both paths (caches, prepared plans, imports)
        a()
        b()
    first: list[float] = []
    second: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        a()
        first.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        b()
        second.append((time.perf_counter() - started) * 1000)
    return first, second


if __name__ == "__main__":
    main()
