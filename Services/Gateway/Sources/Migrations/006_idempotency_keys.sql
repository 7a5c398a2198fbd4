-- Replay of create requests carrying an `Idempotency-Key`, per caller, for 24 hours.
-- A row with a NULL status is a request in progress (claimed, not finished).
CREATE TABLE idempotency_keys (
    caller_id     text NOT NULL,
    key           text NOT NULL,
    -- `POST /api/v1/users` and the SHA-256 of the body: the same key with another request is refused.
    fingerprint   text NOT NULL,
    status        integer,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller_id, key)
);

CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
