-- Suite executions: the seed's columns plus outcome, trigger, the request as asked, and summary
-- columns so that lists never parse the phases JSON.
CREATE TABLE suite_executions (
    id               UUID PRIMARY KEY,
    suite_request_id UUID REFERENCES suite_requests (id) ON DELETE SET NULL,
    scenario_name    TEXT NOT NULL,
    preset_used      TEXT,
    success          BOOLEAN NOT NULL,
    phases           JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(phases) = 'array'),
    started_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'errored', 'timeout', 'cancelled')),
    trigger          TEXT NOT NULL DEFAULT 'api' CHECK (trigger IN ('api', 'queue', 'schedule', 'rerun')),
    requested        JSONB,
    warnings         JSONB,
    total            INTEGER NOT NULL DEFAULT 0,
    passed           INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    skipped          INTEGER NOT NULL DEFAULT 0,
    -- phaseSummary.durationSeconds (sum of per-phase ceil seconds) and observationCount, so a list
    -- answers the same phaseSummary as a get without reading phases.
    duration_seconds INTEGER NOT NULL DEFAULT 0,
    observation_count INTEGER NOT NULL DEFAULT 0,
    -- Wall time of the whole run.
    duration_ms      BIGINT NOT NULL DEFAULT 0,
    CHECK (completed_at >= started_at)
);

CREATE INDEX idx_suite_executions_scenario_completed
    ON suite_executions (scenario_name, completed_at DESC, id DESC);
CREATE INDEX idx_suite_executions_completed ON suite_executions (completed_at DESC, id DESC);
-- One execution per suite request, whatever races happen.
CREATE UNIQUE INDEX uq_suite_executions_request ON suite_executions (suite_request_id)
    WHERE suite_request_id IS NOT NULL;
