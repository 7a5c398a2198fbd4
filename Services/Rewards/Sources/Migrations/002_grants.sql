-- Grants (发放), their redemption (核销), expiry and revocation; per-customer usage for the limits.
-- No foreign key to rewards on purpose: every insert would take a KEY SHARE lock on the one hot reward
-- row, and thousands of concurrent sharers turn into MultiXact traffic that caps throughput.
CREATE TABLE grants (
    id              text PRIMARY KEY,
    reward_id       text NOT NULL,
    customer_id     text NOT NULL,
    idempotency_key text NOT NULL,
    fingerprint     text NOT NULL,
    status          text NOT NULL CHECK (status IN ('granted', 'redeemed', 'expired', 'revoked')),
    cost            numeric(14, 2) NOT NULL CHECK (cost >= 0),
    shard           integer NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    canvas_id       text,
    node_id         text,
    prize_id        text,
    prize_name      text,
    external_ref    text,
    external_status text CHECK (external_status IN ('pending', 'fetched')),
    granted_by      text NOT NULL,
    org_path        text NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    redeemed_at     timestamptz,
    redeemed_by     text,
    redeemed_org    text,
    revoked_at      timestamptz,
    revoked_by      text,
    revoke_reason   text,
    expired_at      timestamptz,
    UNIQUE (reward_id, idempotency_key)
);
CREATE INDEX grants_customer ON grants (customer_id, id DESC);
CREATE INDEX grants_expiring ON grants (valid_until) WHERE status = 'granted';
CREATE INDEX grants_reward ON grants (reward_id, status);
CREATE INDEX grants_external_pending ON grants (granted_at) WHERE external_status = 'pending';

-- One row per (reward, customer): the upsert that counts a grant also locks the row, so one customer's
-- concurrent grants queue here and never pass the limits.
CREATE TABLE reward_usage (
    reward_id   text NOT NULL,
    customer_id text NOT NULL,
    total       integer NOT NULL CHECK (total >= 0),
    day         date NOT NULL,
    day_count   integer NOT NULL CHECK (day_count >= 0),
    PRIMARY KEY (reward_id, customer_id)
);
