-- Scenario health (GET /scenarios): one row per scenario with executions, kept in the transaction
-- that records an execution, so the list never aggregates history (docs/database.md).
CREATE TABLE scenario_summaries (
    scenario_name      TEXT PRIMARY KEY,
    last_execution_id  UUID NOT NULL,
    last_outcome       TEXT NOT NULL,
    last_completed_at  TIMESTAMPTZ NOT NULL,
    -- The newest runs (at most 30), newest first, from which the figures below are computed:
    -- [{"id", "at", "outcome", "ms", "digest", "failed": [phase], "passed": [phase]}]
    recent             JSONB NOT NULL CHECK (jsonb_typeof(recent) = 'array'),
    runs               INTEGER NOT NULL,
    passed_runs        INTEGER NOT NULL,
    median_duration_ms BIGINT NOT NULL,
    flaky_phases       INTEGER NOT NULL,
    -- The newest 20 outcomes, oldest first (a sparkline).
    recent_outcomes    TEXT[] NOT NULL
);

CREATE INDEX idx_scenario_summaries_activity
    ON scenario_summaries (last_completed_at DESC, scenario_name DESC);

-- Existing history: the rows history/window.py would compute (nearest-rank median, flaky = one
-- digest both passed and failed a phase).
WITH ranked AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.scenario_name ORDER BY e.completed_at DESC, e.id DESC) AS n
    FROM suite_executions e
), w AS (
    SELECT * FROM ranked WHERE n <= 30
), entries AS (
    SELECT w.scenario_name, w.id, w.completed_at, w.outcome, w.duration_ms, w.n,
           jsonb_build_object(
               'id', w.id,
               'at', to_char(w.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'outcome', w.outcome, 'ms', w.duration_ms, 'digest', w.source_digest,
               'failed', COALESCE((SELECT jsonb_agg(p.name ORDER BY p.name) FROM suite_execution_phases p
                                   WHERE p.execution_id = w.id AND p.status = 'failed'), '[]'::jsonb),
               'passed', COALESCE((SELECT jsonb_agg(p.name ORDER BY p.name) FROM suite_execution_phases p
                                   WHERE p.execution_id = w.id AND p.status = 'passed'), '[]'::jsonb)
           ) AS entry
    FROM w
), flaky AS (
    SELECT w.scenario_name, p.name AS phase
    FROM w JOIN suite_execution_phases p ON p.execution_id = w.id
    WHERE w.source_digest IS NOT NULL AND p.status IN ('passed', 'failed')
    GROUP BY w.scenario_name, w.source_digest, p.name
    HAVING count(DISTINCT p.status) = 2
)
INSERT INTO scenario_summaries (scenario_name, last_execution_id, last_outcome, last_completed_at, recent,
                                runs, passed_runs, median_duration_ms, flaky_phases, recent_outcomes)
SELECT x.scenario_name,
       (array_agg(x.id ORDER BY x.n))[1],
       (array_agg(x.outcome ORDER BY x.n))[1],
       max(x.completed_at),
       jsonb_agg(x.entry ORDER BY x.n),
       count(*),
       count(*) FILTER (WHERE x.outcome = 'passed'),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY x.duration_ms),
       COALESCE((SELECT count(DISTINCT f.phase) FROM flaky f WHERE f.scenario_name = x.scenario_name), 0),
       array_agg(x.outcome ORDER BY x.n DESC) FILTER (WHERE x.n <= 20)
FROM entries x
GROUP BY x.scenario_name;
