"""Synthetic history for the benchmark and the plan tests: executions, their phase rows and the
scenario summaries, generated inside PostgreSQL (one INSERT … SELECT generate_series each).

Every 7th run fails its `unit` phase with one failing test; the source digest changes every ten
runs of a scenario; runs complete one third of a second apart (equal times on purpose: the
tiebreaker matters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from testgenie.db import Connection
from testgenie.execution.repository import SuiteExecutionRepository

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)

_EXECUTIONS_SQL = """
INSERT INTO suite_executions (id, scenario_name, preset_used, success, phases, started_at, completed_at,
    outcome, trigger, total, passed, failed, skipped, duration_seconds, observation_count, duration_ms,
    source_digest)
SELECT gen_random_uuid(), x.scenario, 'quick', NOT x.f,
    jsonb_build_array(
        jsonb_build_object('name', 'structure', 'status', 'passed', 'durationSeconds', 1, 'durationMs', 40 + x.g %% 50,
                           'logPath', 'structure.log'),
        jsonb_build_object('name', 'docs', 'status', 'passed', 'durationSeconds', 1, 'durationMs', 90 + x.g %% 70,
                           'logPath', 'docs.log'),
        CASE WHEN x.f THEN jsonb_build_object('name', 'unit', 'status', 'failed', 'durationSeconds', 2,
                'durationMs', 1200 + x.g %% 400, 'logPath', 'unit.log', 'classification', 'test_failure',
                'error', '1 of 12 tests failed', 'tests', jsonb_build_object('total', 12, 'passed', 11, 'failed', 1),
                'failingTests', jsonb_build_array(jsonb_build_object(
                    'name', 'tests/unit/test_calc.py::test_' || (x.g %% 5),
                    'signature', 'AssertionError: assert ' || (x.g %% 9) || ' == 4')))
             ELSE jsonb_build_object('name', 'unit', 'status', 'passed', 'durationSeconds', 2,
                'durationMs', 1100 + x.g %% 400, 'logPath', 'unit.log',
                'tests', jsonb_build_object('total', 12, 'passed', 12)) END),
    x.t - interval '2 seconds', x.t, CASE WHEN x.f THEN 'failed' ELSE 'passed' END,
    (ARRAY['api', 'queue', 'schedule'])[1 + x.g %% 3], 3, CASE WHEN x.f THEN 2 ELSE 3 END,
    CASE WHEN x.f THEN 1 ELSE 0 END, 0, 4, 0, 1500 + x.g %% 900,
    'sha256:' || md5(x.scenario || ':' || (x.g / (%(scenarios)s::int * 10)))
FROM (SELECT g, 'scenario-' || lpad((g %% %(scenarios)s::int)::text, 4, '0') AS scenario,
             %(base)s::timestamptz + make_interval(secs => g / 3.0) AS t, g %% 7 = 0 AS f
      FROM generate_series(%(first)s::int, %(last)s::int) AS g) AS x
"""
_PHASES_SQL = """
INSERT INTO suite_execution_phases (execution_id, name, scenario_name, completed_at, status, duration_ms,
    classification, failing_tests)
SELECT e.id, p->>'name', e.scenario_name, e.completed_at, p->>'status', (p->>'durationMs')::BIGINT,
    p->>'classification', p->'failingTests'
FROM suite_executions e, jsonb_array_elements(e.phases) AS p
WHERE e.completed_at >= %(since)s
"""


def scenario_names(scenarios: int) -> list[str]:
    return [f"scenario-{i:04d}" for i in range(scenarios)]


def generate_history(conn: Connection, first: int, count: int, scenarios: int) -> None:
    """Runs number first .. first + count - 1 (times follow the run number), then the summaries."""
    since = conn.execute(
        "SELECT %s::timestamptz + make_interval(secs => %s::int / 3.0) AS t", (BASE_TIME, first)
    )
    row = since.fetchone()
    assert row is not None
    params = {"scenarios": scenarios, "base": BASE_TIME, "first": first, "last": first + count - 1}
    conn.execute(_EXECUTIONS_SQL, params)
    conn.execute(_PHASES_SQL, {"since": row["t"]})
    # Statistics first: without them the planner misjudges the summaries' window query by orders of
    # magnitude and JIT-compiles it, ~0.1 s for each of the scenarios.
    conn.execute("ANALYZE suite_executions")
    conn.execute("ANALYZE suite_execution_phases")
    repository = SuiteExecutionRepository()
    for name in scenario_names(scenarios):
        repository.rebuild_summary(conn, name)
    conn.execute("ANALYZE scenario_summaries")


def settle(conn: Connection) -> None:
    """VACUUM (ANALYZE) what was loaded, as autovacuum does after a table's bulk inserts: the
    visibility map lets index-only scans skip the heap, as they do on a settled database.
    Needs an autocommit connection (VACUUM runs outside a transaction)."""
    for table in ("suite_executions", "suite_execution_phases", "scenario_summaries", "suite_requests"):
        conn.execute(f"VACUUM (ANALYZE) {table}")


def generate_suite_requests(conn: Connection, first: int, count: int) -> None:
    """Finished suite requests, one a second, over ten scenarios and the statuses."""
    if count <= 0:
        return
    conn.execute(
        "INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status, "
        "created_at, updated_at) SELECT gen_random_uuid(), 'scenario-' || lpad((g %% 10)::text, 4, '0'), "
        "'{unit}', 95, 'normal', (ARRAY['completed', 'failed', 'cancelled'])[1 + g %% 3], "
        "%s::timestamptz + make_interval(secs => g), %s::timestamptz + make_interval(secs => g) "
        "FROM generate_series(%s::int, %s::int) AS g",
        (BASE_TIME, BASE_TIME, first, first + count - 1),
    )
    conn.execute("ANALYZE suite_requests")


def plan_nodes(conn: Connection, sql: str, params: Any) -> list[str]:
    """The node types of a query's plan, depth first (EXPLAIN, FORMAT JSON)."""
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        found.append(node["Node Type"])
        for child in node.get("Plans", []):
            walk(child)

    walk(row["QUERY PLAN"][0]["Plan"])
    return found
