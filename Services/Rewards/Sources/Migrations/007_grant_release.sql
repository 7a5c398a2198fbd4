-- What a grant used, so that revoking it (or a provider refusing an external one) gives all of it back:
-- the quota row it counted against (NULL when no quota applied). Its stock unit is `shard`, its budget
-- that unit, its per-customer counts the usage row of (reward_id, customer_id).
ALTER TABLE grants ADD COLUMN quota_path text;

-- External fetches: a provider's 4xx is final (`failed`, the grant revoked with the reason), a 5xx or a
-- timeout is retried a bounded number of times, each after a growing pause.
ALTER TABLE grants DROP CONSTRAINT grants_external_status_check;
ALTER TABLE grants ADD CONSTRAINT grants_external_status_check CHECK (external_status IN ('pending', 'fetched', 'failed'));
ALTER TABLE grants ADD COLUMN external_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN external_error text;
ALTER TABLE grants ADD COLUMN external_next_at timestamptz;
DROP INDEX grants_external_pending;
CREATE INDEX grants_external_pending ON grants (external_next_at) WHERE external_status = 'pending';
