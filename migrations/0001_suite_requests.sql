-- Suite requests: the seed's columns plus the plan, the trigger, the lease and the fencing token.
CREATE TABLE suite_requests (
    id                  UUID PRIMARY KEY,
    scenario_name       TEXT NOT NULL,
    requested_types     TEXT[] NOT NULL,
    coverage_target     INTEGER NOT NULL CHECK (coverage_target BETWEEN 1 AND 100),
    priority            TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status              TEXT NOT NULL
        CHECK (status IN ('queued', 'delegated', 'running', 'completed', 'failed', 'cancelled')),
    notes               TEXT,
    delegation_issue_id TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    preset              TEXT,
    phases              TEXT[],
    skip                TEXT[],
    fail_fast           BOOLEAN NOT NULL DEFAULT FALSE,
    trigger             TEXT NOT NULL DEFAULT 'api' CHECK (trigger IN ('api', 'queue', 'schedule', 'rerun')),
    -- attempts doubles as the fencing token: every claim and every reap bumps it.
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_expires_at    TIMESTAMPTZ,
    cancel_requested    BOOLEAN NOT NULL DEFAULT FALSE,
    progress            JSONB,
    idempotency_key     TEXT UNIQUE,
    CHECK (status <> 'running' OR lease_expires_at IS NOT NULL)
);

CREATE INDEX idx_suite_requests_scenario ON suite_requests (scenario_name);
-- Newest-first lists, with and without a status filter.
CREATE INDEX idx_suite_requests_created ON suite_requests (created_at DESC, id DESC);
CREATE INDEX idx_suite_requests_status_created ON suite_requests (status, created_at DESC, id DESC);
-- The reaper's scan of expired leases.
CREATE INDEX idx_suite_requests_running_lease ON suite_requests (lease_expires_at)
    WHERE status = 'running';
