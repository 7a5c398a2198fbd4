-- A delivery thread takes its batch's share of a provider's second in one statement: the row keeps
-- what the last statement was granted, which RETURNING can read (it cannot read the old row).
ALTER TABLE provider_rate_windows ADD COLUMN last_grant integer NOT NULL DEFAULT 0;
