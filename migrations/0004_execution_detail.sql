-- What ran exactly, and the per-phase rows that keep history queries flat (docs/database.md).
-- Only adds: old rows stay readable (a NULL digest means "not recorded").
ALTER TABLE suite_executions ADD COLUMN source_digest TEXT;

-- One row per phase of an execution, copied from suite_executions.phases in the recording
-- transaction: "runs where phase X failed" and per-phase statistics read an index, never the JSON.
CREATE TABLE suite_execution_phases (
    execution_id   UUID NOT NULL REFERENCES suite_executions (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    scenario_name  TEXT NOT NULL,
    completed_at   TIMESTAMPTZ NOT NULL,
    status         TEXT NOT NULL,
    duration_ms    BIGINT NOT NULL DEFAULT 0,
    classification TEXT,
    -- [{"name", "signature"}] of the phase's failing tests (capped), NULL when none.
    failing_tests  JSONB,
    PRIMARY KEY (execution_id, name)
);

INSERT INTO suite_execution_phases
    (execution_id, name, scenario_name, completed_at, status, duration_ms, classification, failing_tests)
SELECT e.id, p->>'name', e.scenario_name, e.completed_at, p->>'status',
       COALESCE((p->>'durationMs')::BIGINT, 0), p->>'classification', p->'failingTests'
FROM suite_executions e, jsonb_array_elements(e.phases) AS p
ON CONFLICT DO NOTHING;

-- ?phase=&phaseStatus= with and without a scenario, newest first.
CREATE INDEX idx_execution_phases_status
    ON suite_execution_phases (name, status, completed_at DESC, execution_id DESC);
CREATE INDEX idx_execution_phases_scenario_status
    ON suite_execution_phases (scenario_name, name, status, completed_at DESC, execution_id DESC);

-- ?outcome= with and without a scenario (several outcomes: one ordered scan each, merged).
CREATE INDEX idx_suite_executions_outcome_completed
    ON suite_executions (outcome, completed_at DESC, id DESC);
CREATE INDEX idx_suite_executions_scenario_outcome_completed
    ON suite_executions (scenario_name, outcome, completed_at DESC, id DESC);

-- GET /suite-requests?scenario= newest first.
CREATE INDEX idx_suite_requests_scenario_created
    ON suite_requests (scenario_name, created_at DESC, id DESC);
DROP INDEX idx_suite_requests_scenario;
