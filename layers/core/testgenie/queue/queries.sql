-- The suite request queue's statements (queue/repository.py binds them; testgenie/sql.py reads this
-- file). Every state transition is one conditional UPDATE ... RETURNING: the WHERE clause is the
-- rule (docs/database.md, "States"), and `attempts` is the worker's fencing token.

-- name: request_columns
r.id, r.scenario_name, r.requested_types, r.coverage_target, r.priority, r.status, r.notes,
r.delegation_issue_id, r.preset, r.phases, r.skip, r.fail_fast, r.shards, r.trigger, r.attempts,
r.progress, r.reason, r.claim_id, r.lease_expires_at, r.cancel_requested, r.created_at, r.updated_at,
r.rerun_of,
(SELECT e.id FROM suite_executions e WHERE e.suite_request_id = r.id) AS execution_id

-- name: insert_request
-- With an idempotency key already used nothing is inserted (and no id returned).
INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status,
    notes, delegation_issue_id, preset, phases, skip, fail_fast, trigger, idempotency_key, rerun_of,
    shards)
VALUES (%(id)s, %(scenario_name)s, %(requested_types)s, %(coverage_target)s, %(priority)s, %(status)s,
    %(notes)s, %(delegation_issue_id)s, %(preset)s, %(phases)s, %(skip)s, %(fail_fast)s, %(trigger)s,
    %(idempotency_key)s, %(rerun_of)s, %(shards)s)
ON CONFLICT (idempotency_key) DO NOTHING RETURNING id

-- name: get_request
SELECT {{request_columns}} FROM suite_requests r WHERE r.id = %(id)s

-- name: get_request_by_idempotency_key
SELECT {{request_columns}} FROM suite_requests r WHERE r.idempotency_key = %(key)s

-- name: list_requests
-- Newest first. The repository puts in {conditions} one where_* block per given filter: each
-- filter is the leading column of an index on (..., created_at DESC, id DESC), and each shape of
-- the filter keeps a statement (and a plan) of its own.
SELECT {{request_columns}} FROM suite_requests r
WHERE {conditions}
ORDER BY r.created_at DESC, r.id DESC LIMIT %(limit)s OFFSET %(offset)s

-- name: where_status
r.status = %(status)s

-- name: where_scenario
r.scenario_name = %(scenario)s

-- name: where_since
r.created_at >= %(since)s

-- name: where_before
(r.created_at, r.id) < (%(after_at)s, %(after_id)s)

-- name: claim_request
-- queued|delegated -> running; the new attempts value is the fencing token.
UPDATE suite_requests r SET status = 'running', attempts = attempts + 1, claim_id = %(claim_id)s,
    lease_expires_at = NOW() + make_interval(secs => %(lease_seconds)s), progress = NULL, reason = NULL,
    updated_at = NOW()
WHERE r.id = %(id)s AND r.status = ANY(%(claimable)s) AND NOT r.cancel_requested
RETURNING {{request_columns}}

-- name: claim_durable_request
-- The claim of a durable execution: queued|delegated -> running, or the same claim again when this
-- execution (claim_id is derived from its ARN) already holds the request. A replayed or retried
-- claim step therefore takes the request once, keeping its token and progress.
UPDATE suite_requests r SET status = 'running',
    attempts = CASE WHEN r.status = 'running' THEN r.attempts ELSE r.attempts + 1 END,
    claim_id = %(claim_id)s, durable_execution_arn = %(execution_arn)s,
    lease_expires_at = NOW() + make_interval(secs => %(lease_seconds)s),
    progress = CASE WHEN r.status = 'running' THEN r.progress END, reason = NULL,
    updated_at = NOW()
WHERE r.id = %(id)s AND ((r.status = ANY(%(claimable)s) AND NOT r.cancel_requested)
    OR (r.status = 'running' AND r.claim_id = %(claim_id)s))
RETURNING {{request_columns}}

-- name: durable_execution_arn
SELECT durable_execution_arn FROM suite_requests WHERE id = %(id)s

-- name: get_claim
-- The claim claim_id, if it is the request's current one (read back after a lost answer).
SELECT {{request_columns}} FROM suite_requests r
WHERE r.id = %(id)s AND r.claim_id = %(claim_id)s AND r.status = 'running'

-- name: record_progress
-- Progress and a renewed lease, only while the token is current.
UPDATE suite_requests SET progress = %(progress)s, updated_at = NOW(),
    lease_expires_at = NOW() + make_interval(secs => %(lease_seconds)s)
WHERE id = %(id)s AND status = 'running' AND attempts = %(token)s
RETURNING cancel_requested

-- name: finish_request
-- running -> completed|failed|cancelled, only while the caller's token is current.
UPDATE suite_requests r SET status = %(status)s, lease_expires_at = NULL,
    progress = COALESCE(%(progress)s, progress), reason = %(reason)s, updated_at = NOW()
WHERE r.id = %(id)s AND r.status = 'running' AND r.attempts = %(token)s
RETURNING {{request_columns}}

-- name: cancel_request
-- queued|delegated -> cancelled; running -> cancel requested (its worker stops after the phase).
UPDATE suite_requests r SET
    status = CASE WHEN r.status = 'running' THEN 'running' ELSE 'cancelled' END,
    reason = CASE WHEN r.status = 'running' THEN r.reason ELSE 'cancelled before it ran' END,
    cancel_requested = TRUE, updated_at = NOW()
WHERE r.id = %(id)s AND r.status = ANY(%(cancellable)s)
RETURNING {{request_columns}}

-- name: lock_expired
-- Running rows whose lease ran out, locked for this transaction; a concurrent reaper skips them.
SELECT id, scenario_name, attempts, progress, preset, phases, skip, fail_fast, trigger,
    cancel_requested, created_at, durable_execution_arn
FROM suite_requests
WHERE status = 'running' AND lease_expires_at < NOW()
ORDER BY lease_expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED

-- name: release_request
-- The reaper's transition of an expired lease: running -> queued | failed | cancelled.
UPDATE suite_requests SET status = %(status)s, lease_expires_at = NULL, reason = %(reason)s,
    updated_at = NOW()
WHERE id = %(id)s AND status = 'running' AND attempts = %(token)s
RETURNING id

-- name: lock_request
-- The row's state, locked for this transaction (the dead-letter decision).
SELECT status, cancel_requested, attempts, dead_letters,
    lease_expires_at IS NOT NULL AND lease_expires_at > NOW() AS lease_live
FROM suite_requests WHERE id = %(id)s FOR UPDATE

-- name: count_dead_letter
UPDATE suite_requests SET dead_letters = dead_letters + 1, updated_at = NOW() WHERE id = %(id)s

-- name: fail_unclaimed
-- queued|delegated -> failed (dead-lettered deliveries). A running request is its worker's or the
-- reaper's to end, and terminal rows stay as they are.
UPDATE suite_requests r SET status = 'failed', lease_expires_at = NULL, reason = %(reason)s,
    progress = COALESCE(r.progress, '{}'::jsonb) || %(progress)s, updated_at = NOW()
WHERE r.id = %(id)s AND r.status = ANY(%(claimable)s)
RETURNING {{request_columns}}

-- name: touch_stale_queued
-- Queued rows untouched for a while (a publish may have been lost): marked, and their ids returned.
UPDATE suite_requests SET updated_at = NOW() WHERE id IN (
    SELECT id FROM suite_requests WHERE status = ANY(%(claimable)s)
    AND updated_at < NOW() - make_interval(secs => %(older_than_seconds)s) AND NOT cancel_requested
    ORDER BY updated_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING id

-- name: status_counts
SELECT status, COUNT(*) AS n FROM suite_requests GROUP BY status

-- name: oldest_claimable
SELECT MIN(created_at) AS oldest FROM suite_requests WHERE status = ANY(%(claimable)s)
