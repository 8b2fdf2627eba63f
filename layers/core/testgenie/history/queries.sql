-- The read side's statements (history/repository.py binds them; testgenie/sql.py reads this file).
-- PostgreSQL only finds rows: index scans over a page or a window (docs/performance.md); the
-- answers' JSON is built from the rows by column name (history/documents.py).

-- name: summary_columns
-- A list item's columns (history/documents.py: summary_item); the page builder selects them. Ids
-- arrive as text: a page's JSON needs their text, not 100 UUID objects made and formatted again.
e.id::text AS id, e.suite_request_id::text AS suite_request_id, e.scenario_name, e.started_at, e.completed_at, e.success, e.preset_used,
e.outcome, e.trigger, e.duration_ms, e.total, e.passed, e.failed, e.skipped, e.duration_seconds,
e.observation_count, e.source_digest

-- name: result_columns
-- One execution with its phases; the phases JSON arrives as text, never parsed here.
e.id, e.suite_request_id, e.scenario_name, e.started_at, e.completed_at, e.success, e.preset_used,
e.outcome, e.total, e.passed, e.failed, e.skipped, e.duration_seconds, e.observation_count,
e.warnings, e.source_digest, e.trigger, e.phases::text AS phases

-- name: get_execution
SELECT {{result_columns}} FROM suite_executions e WHERE e.id = %(id)s

-- name: latest_execution
SELECT {{result_columns}} FROM suite_executions e ORDER BY e.completed_at DESC, e.id DESC LIMIT 1

-- name: latest_execution_of_scenario
SELECT {{result_columns}} FROM suite_executions e WHERE e.scenario_name = %(scenario)s
ORDER BY e.completed_at DESC, e.id DESC LIMIT 1

-- name: compare_with_previous
-- An execution with the run of the same scenario just before it (compare ?with=previous), in one
-- statement: a primary-key lookup and one step down the scenario's newest-first index.
SELECT e.id, e.scenario_name, e.source_digest, e.phases,
    p.id AS base_id, p.source_digest AS base_source_digest, p.phases AS base_phases
FROM suite_executions e LEFT JOIN LATERAL (
    SELECT x.id, x.source_digest, x.phases FROM suite_executions x
    WHERE x.scenario_name = e.scenario_name AND (x.completed_at, x.id) < (e.completed_at, e.id)
    ORDER BY x.completed_at DESC, x.id DESC LIMIT 1) AS p ON TRUE
WHERE e.id = %(id)s

-- name: executions_to_compare
SELECT e.id, e.scenario_name, e.source_digest, e.phases FROM suite_executions e WHERE e.id = ANY(%(ids)s)

-- name: scenario_columns
s.scenario_name, s.last_execution_id, s.last_outcome, s.last_completed_at, s.runs, s.passed_runs,
s.median_duration_ms, s.recent_outcomes, s.flaky_phases

-- name: scenarios
SELECT {{scenario_columns}} FROM scenario_summaries s
ORDER BY s.last_completed_at DESC, s.scenario_name DESC LIMIT %(limit)s

-- name: scenarios_after
SELECT {{scenario_columns}} FROM scenario_summaries s
WHERE (s.last_completed_at, s.scenario_name) < (%(after_at)s, %(after_name)s)
ORDER BY s.last_completed_at DESC, s.scenario_name DESC LIMIT %(limit)s

-- name: stats_window
-- The newest N runs of a scenario and their phase rows (one index range and N primary-key lookups;
-- never more than the window).
SELECT w.id, w.completed_at, w.outcome, w.source_digest, p.name, p.status, p.duration_ms,
    p.classification, p.failing_tests
FROM (SELECT e.id, e.completed_at, e.outcome, e.source_digest FROM suite_executions e
      WHERE e.scenario_name = %(scenario)s ORDER BY e.completed_at DESC, e.id DESC LIMIT %(window)s) AS w
LEFT JOIN suite_execution_phases p ON p.execution_id = w.id
ORDER BY w.completed_at, w.id

-- name: phase_errors
-- The error of given phases of given executions (a stats window's last failures: a handful of rows).
SELECT e.id::text AS id, x->>'name' AS name, x->>'error' AS error
FROM suite_executions e, jsonb_array_elements(e.phases) AS x
WHERE e.id = ANY(%(ids)s::uuid[]) AND x->>'name' = ANY(%(names)s)

-- name: last_activity
SELECT last_completed_at FROM scenario_summaries WHERE scenario_name = %(scenario)s
