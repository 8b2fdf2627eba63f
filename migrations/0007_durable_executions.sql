-- A request run by a Lambda durable execution (docs/architecture.md, "Durable executions") names it:
-- a cancel stops that execution at once, and the reaper tells a durable run from a lost worker.
ALTER TABLE suite_requests ADD COLUMN durable_execution_arn TEXT;
