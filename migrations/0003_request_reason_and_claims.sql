-- Why a request ended failed or cancelled (GET /suite-requests/{id} shows it; docs/database.md).
ALTER TABLE suite_requests ADD COLUMN reason TEXT;
-- The id of the latest claim: a worker whose claim lost its acknowledgement (the connection broke
-- after the server committed) recognises its own claim when it reads the row back.
ALTER TABLE suite_requests ADD COLUMN claim_id UUID;
-- How often the request's message was dead-lettered and published again (its run never reached
-- MAX_ATTEMPTS): bounds that loop.
ALTER TABLE suite_requests ADD COLUMN dead_letters INTEGER NOT NULL DEFAULT 0 CHECK (dead_letters >= 0);
