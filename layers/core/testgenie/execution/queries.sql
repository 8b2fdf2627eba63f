-- The write side of suite_executions, its phase rows and its scenario's summary
-- (execution/repository.py binds them; testgenie/sql.py reads this file).

-- name: _record_columns
id, suite_request_id, scenario_name, preset_used, success, phases, started_at, completed_at,
outcome, trigger, requested, warnings, source_digest

-- name: insert_execution
INSERT INTO suite_executions (id, suite_request_id, scenario_name, preset_used, success, phases,
    started_at, completed_at, outcome, trigger, requested, warnings, total, passed, failed, skipped,
    duration_seconds, observation_count, duration_ms, source_digest)
VALUES (%(id)s, %(suite_request_id)s, %(scenario_name)s, %(preset_used)s, %(success)s, %(phases)s,
    %(started_at)s, %(completed_at)s, %(outcome)s, %(trigger)s, %(requested)s, %(warnings)s,
    %(total)s, %(passed)s, %(failed)s, %(skipped)s, %(duration_seconds)s, %(observation_count)s,
    %(duration_ms)s, %(source_digest)s)

-- name: insert_phases
-- The per-phase rows behind ?phase= and the statistics (docs/database.md), in one statement.
INSERT INTO suite_execution_phases (execution_id, name, scenario_name, completed_at, status,
    duration_ms, classification, failing_tests)
SELECT %(execution_id)s, x.name, %(scenario_name)s, %(completed_at)s, x.status, x.ms, x.cls, x.failing
FROM jsonb_to_recordset(%(phases)s::jsonb)
    AS x(name TEXT, status TEXT, ms BIGINT, cls TEXT, failing JSONB)
ON CONFLICT DO NOTHING

-- name: lock_summary
-- The scenario summary row is locked for the rest of the recording transaction, so concurrent
-- recordings of one scenario merge one after the other and none is lost.
SELECT recent FROM scenario_summaries WHERE scenario_name = %(scenario)s FOR UPDATE

-- name: _summary_values
last_execution_id = %(last_id)s, last_outcome = %(last_outcome)s, last_completed_at = %(last_at)s,
recent = %(recent)s, runs = %(runs)s, passed_runs = %(passed_runs)s,
median_duration_ms = %(median)s, flaky_phases = %(flaky)s, recent_outcomes = %(outcomes)s

-- name: _insert_summary
INSERT INTO scenario_summaries (scenario_name, last_execution_id, last_outcome, last_completed_at,
    recent, runs, passed_runs, median_duration_ms, flaky_phases, recent_outcomes)
VALUES (%(scenario)s, %(last_id)s, %(last_outcome)s, %(last_at)s, %(recent)s, %(runs)s,
    %(passed_runs)s, %(median)s, %(flaky)s, %(outcomes)s)

-- name: insert_summary
-- The scenario's first summary; no row back when a concurrent first run inserted it first.
{{_insert_summary}} ON CONFLICT (scenario_name) DO NOTHING RETURNING 1

-- name: update_summary
UPDATE scenario_summaries SET {{_summary_values}} WHERE scenario_name = %(scenario)s

-- name: upsert_summary
{{_insert_summary}} ON CONFLICT (scenario_name) DO UPDATE SET {{_summary_values}}

-- name: delete_summary
DELETE FROM scenario_summaries WHERE scenario_name = %(scenario)s

-- name: window_entries
-- A from-scratch window of one scenario (retention uses it after deleting runs).
SELECT e.id, e.completed_at, e.outcome, e.duration_ms, e.source_digest,
    ARRAY(SELECT p.name || '=' || p.status FROM suite_execution_phases p WHERE p.execution_id = e.id)
    AS phases
FROM suite_executions e WHERE e.scenario_name = %(scenario)s
ORDER BY e.completed_at DESC, e.id DESC LIMIT %(window)s

-- name: delete_expired
-- Retention: the oldest unpinned executions, a bounded batch at a time; SKIP LOCKED so it never
-- waits on (or blocks) a recording. Served by idx_suite_executions_completed read backwards.
DELETE FROM suite_executions WHERE id IN (
    SELECT id FROM suite_executions
    WHERE completed_at < %(older_than)s AND NOT pinned ORDER BY completed_at, id
    LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
RETURNING id, scenario_name,
    ARRAY(SELECT p->>'logPath' FROM jsonb_array_elements(phases) AS p
          WHERE COALESCE(p->>'logPath', '') <> '') AS logs

-- name: set_pinned
UPDATE suite_executions SET pinned = %(pinned)s WHERE id = %(id)s RETURNING id

-- name: get_execution_record
SELECT {{_record_columns}} FROM suite_executions WHERE id = %(id)s

-- name: get_execution_record_by_request
SELECT {{_record_columns}} FROM suite_executions WHERE suite_request_id = %(suite_request_id)s

-- name: count_executions
SELECT COUNT(*) AS n FROM suite_executions
