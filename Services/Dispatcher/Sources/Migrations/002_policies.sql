-- The bank's send policies: one document (quiet hours, caps, compliance word lists), versioned so that a
-- concurrent edit is refused rather than lost. Absent row: the defaults of `SendPolicy.defaults`.
CREATE TABLE policies (
    id         integer PRIMARY KEY CHECK (id = 1),
    document   jsonb NOT NULL,
    version    bigint NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The dispatcher's global black list: customers no marketing message reaches (see README: it is kept
-- here, edited through PUT /api/v1/policies, until the segment service exposes its global lists).
CREATE TABLE blacklisted_customers (
    customer_id text PRIMARY KEY,
    added_at    timestamptz NOT NULL DEFAULT now()
);
