-- Shards: per-test durations learned from each recorded run's JUnit (the split puts the longest tests
-- first), and the test ids a pytest phase collected, cached by bundle digest and phase settings.
-- Both are pruned with retention (updated_at / created_at older than RETENTION_DAYS).
CREATE TABLE test_timings (
    scenario_name TEXT NOT NULL,
    phase TEXT NOT NULL,
    test_id TEXT NOT NULL,
    duration_ms BIGINT NOT NULL CHECK (duration_ms >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (scenario_name, phase, test_id)
);
CREATE INDEX idx_test_timings_updated ON test_timings (updated_at);

CREATE TABLE test_collections (
    scenario_name TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('tests', 'commands')),
    test_ids JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (scenario_name, cache_key)
);
CREATE INDEX idx_test_collections_created ON test_collections (created_at);

-- A queued request may ask for its phases to be sharded: a count (1 …) or 'auto'.
ALTER TABLE suite_requests ADD COLUMN shards TEXT;
