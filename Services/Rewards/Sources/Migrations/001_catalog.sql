-- The reward catalog (权益目录) and its stock, split into shards so that concurrent grants of one hot
-- reward do not queue on one row (ENGINEERING-NOTES: ~760 grants/s on one row, ~4.2k/s sharded).
CREATE TABLE rewards (
    id                 text PRIMARY KEY,
    code               text NOT NULL UNIQUE,
    name               text NOT NULL,
    description        text,
    kind               text NOT NULL CHECK (kind IN ('coupon', 'points', 'lottery', 'gift', 'external')),
    coupon_type        text CHECK (coupon_type IN ('cash', 'rate_boost', 'fee_waiver')),
    -- cash: CNY off; rate_boost: percentage points added to the yield; fee_waiver: CNY of fees waived.
    face_value         numeric(14, 4),
    points             integer CHECK (points > 0),
    provider_url       text,
    stock              integer NOT NULL CHECK (stock >= 0),
    unit_cost          numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    budget             numeric(16, 2) CHECK (budget >= 0),
    -- Units the shards were filled with: min(stock, floor(budget / unit_cost)); the budget can then never
    -- be exceeded, because every grant takes one unit (cost × units ≤ budget).
    grantable          integer NOT NULL CHECK (grantable >= 0 AND grantable <= stock),
    per_customer_limit integer CHECK (per_customer_limit >= 1),
    per_day_limit      integer CHECK (per_day_limit >= 1),
    validity_days      integer CHECK (validity_days BETWEEN 1 AND 3650),
    valid_from         timestamptz,
    valid_until        timestamptz,
    lottery            jsonb,
    shards             integer NOT NULL CHECK (shards BETWEEN 1 AND 256),
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved')),
    org_id             text NOT NULL,
    org_path           text NOT NULL,
    created_by         text NOT NULL,
    approved_by        text,
    approved_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (validity_days IS NOT NULL OR (valid_from IS NOT NULL AND valid_until IS NOT NULL AND valid_from < valid_until))
);
CREATE INDEX rewards_org ON rewards (org_path, id);

CREATE TABLE reward_stock (
    reward_id text NOT NULL REFERENCES rewards (id),
    shard     integer NOT NULL,
    remaining integer NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (reward_id, shard)
);
