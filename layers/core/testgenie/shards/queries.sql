-- Per-test durations and cached test collections (shards/repository.py binds them; testgenie/sql.py
-- reads this file; docs/database.md, "Shards").

-- name: upsert_timings
-- The latest measured duration wins: the split follows the suite as it changes.
INSERT INTO test_timings (scenario_name, phase, test_id, duration_ms, updated_at)
SELECT %(scenario)s, x.phase, x.test_id, x.ms, NOW()
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(phase TEXT, test_id TEXT, ms BIGINT)
ON CONFLICT (scenario_name, phase, test_id)
DO UPDATE SET duration_ms = EXCLUDED.duration_ms, updated_at = EXCLUDED.updated_at

-- name: timings
SELECT test_id, duration_ms FROM test_timings
WHERE scenario_name = %(scenario)s AND phase = %(phase)s LIMIT %(limit)s

-- name: delete_old_timings
DELETE FROM test_timings WHERE ctid IN (
    SELECT ctid FROM test_timings WHERE updated_at < %(cutoff)s LIMIT %(batch)s FOR UPDATE SKIP LOCKED)

-- name: collection
SELECT mode, test_ids FROM test_collections WHERE scenario_name = %(scenario)s AND cache_key = %(cache_key)s

-- name: insert_collection
INSERT INTO test_collections (scenario_name, cache_key, mode, test_ids)
VALUES (%(scenario)s, %(cache_key)s, %(mode)s, %(test_ids)s)
ON CONFLICT (scenario_name, cache_key) DO NOTHING

-- name: delete_old_collections
DELETE FROM test_collections WHERE ctid IN (
    SELECT ctid FROM test_collections WHERE created_at < %(cutoff)s LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
