-- Reruns link to the execution they repeat; pinned executions are kept by retention forever.
-- No foreign key on rerun_of: retention may delete the original, the link stays as history.
ALTER TABLE suite_requests ADD COLUMN rerun_of UUID;
ALTER TABLE suite_executions ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT FALSE;
