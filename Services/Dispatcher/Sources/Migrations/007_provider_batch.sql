-- Messages a provider takes in one call: 1 is one message a request (its key in Idempotency-Key);
-- more is the provider's batch submission, `{"messages": [...]}` answered per message (each item
-- carries its own idempotency key).
ALTER TABLE providers ADD COLUMN batch_size integer NOT NULL DEFAULT 1 CHECK (batch_size BETWEEN 1 AND 1000);
