-- Points (积分): an append-only ledger of entries; lots record what each earn still holds. The account row
-- is the per-customer lock that makes concurrent earn/spend serial for one customer.
CREATE TABLE points_accounts (
    customer_id text PRIMARY KEY,
    balance     bigint NOT NULL CHECK (balance >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE points_lots (
    id          bigserial PRIMARY KEY,
    customer_id text NOT NULL,
    earned      integer NOT NULL CHECK (earned > 0),
    remaining   integer NOT NULL CHECK (remaining >= 0 AND remaining <= earned),
    expires_at  timestamptz NOT NULL,
    earned_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX points_lots_open ON points_lots (customer_id, expires_at, id) WHERE remaining > 0;
CREATE INDEX points_lots_expiring ON points_lots (expires_at) WHERE remaining > 0;

CREATE TABLE points_operations (
    id              text PRIMARY KEY,
    customer_id     text NOT NULL,
    idempotency_key text NOT NULL,
    fingerprint     text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('earn', 'spend', 'expire')),
    points          integer NOT NULL CHECK (points > 0),
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_key)
);

-- Never updated nor deleted: the balance is the sum of `points` (earn +, spend and expire −).
CREATE TABLE points_entries (
    id           bigserial PRIMARY KEY,
    customer_id  text NOT NULL,
    operation_id text NOT NULL REFERENCES points_operations (id),
    lot_id       bigint NOT NULL REFERENCES points_lots (id),
    kind         text NOT NULL CHECK (kind IN ('earn', 'spend', 'expire')),
    points       integer NOT NULL CHECK (points <> 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX points_entries_customer ON points_entries (customer_id, id DESC);
