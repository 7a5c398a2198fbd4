-- Rollups, maintained in the transaction that inserts the facts (FactStore): reports read these,
-- never the facts. Every rollup row carries the org_path that owns the activity, so a caller's
-- report sums the rows under its own org path. A counter is split into `shard` rows (each
-- transaction adds to one, chosen at random) so that concurrent ingestion does not queue on one hot
-- row per canvas and day; reports sum the shards.

-- Per canvas node: the funnel.
CREATE TABLE canvas_nodes (
    canvas_id text NOT NULL,
    node_id text NOT NULL,
    org_path text NOT NULL,
    node_type text,
    reached bigint NOT NULL DEFAULT 0,
    sent bigint NOT NULL DEFAULT 0,
    delivered bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    clicked bigint NOT NULL DEFAULT 0,
    suppressed bigint NOT NULL DEFAULT 0,
    converted bigint NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (canvas_id, node_id, org_path, shard)
);

CREATE TABLE canvas_suppressions (
    canvas_id text NOT NULL,
    node_id text NOT NULL,
    org_path text NOT NULL,
    reason text NOT NULL,
    messages bigint NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (canvas_id, node_id, org_path, reason, shard)
);

-- Per canvas: journeys, conversions and what they cost and brought.
CREATE TABLE canvas_totals (
    canvas_id text NOT NULL,
    org_path text NOT NULL,
    entered bigint NOT NULL DEFAULT 0,
    converted bigint NOT NULL DEFAULT 0,
    exited bigint NOT NULL DEFAULT 0,
    converted_amount numeric(20, 2) NOT NULL DEFAULT 0,
    message_cost numeric(22, 4) NOT NULL DEFAULT 0,
    reward_cost numeric(22, 4) NOT NULL DEFAULT 0,
    rewards_granted bigint NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (canvas_id, org_path, shard)
);

-- Experiments: one row per (canvas, customer) with the customer's arm (from journey_entered) and
-- whether the customer converted; arm is NULL while only a conversion has arrived. experiment_arms
-- counts each customer once, when its arm is known.
CREATE TABLE experiment_members (
    canvas_id text NOT NULL,
    customer_id text NOT NULL,
    org_path text NOT NULL,
    arm text,
    converted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (canvas_id, customer_id)
);

CREATE TABLE experiment_arms (
    canvas_id text NOT NULL,
    arm text NOT NULL,
    org_path text NOT NULL,
    customers bigint NOT NULL DEFAULT 0,
    conversions bigint NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (canvas_id, arm, org_path, shard)
);

-- The planned share of each arm, from the latest journey_entered fact carrying plannedShare.
CREATE TABLE experiment_plans (
    canvas_id text NOT NULL,
    arm text NOT NULL,
    planned_share double precision NOT NULL CHECK (planned_share > 0 AND planned_share <= 1),
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (canvas_id, arm)
);

-- Per bank-local day.
CREATE TABLE channel_daily (
    day date NOT NULL,
    channel text NOT NULL,
    org_path text NOT NULL,
    sent bigint NOT NULL DEFAULT 0,
    delivered bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    clicked bigint NOT NULL DEFAULT 0,
    suppressed bigint NOT NULL DEFAULT 0,
    cost numeric(22, 4) NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, channel, org_path, shard)
);

CREATE TABLE reward_daily (
    day date NOT NULL,
    reward_id text NOT NULL,
    org_path text NOT NULL,
    reward_kind text,
    granted bigint NOT NULL DEFAULT 0,
    redeemed bigint NOT NULL DEFAULT 0,
    expired bigint NOT NULL DEFAULT 0,
    revoked bigint NOT NULL DEFAULT 0,
    drawn bigint NOT NULL DEFAULT 0,
    points_earned bigint NOT NULL DEFAULT 0,
    points_spent bigint NOT NULL DEFAULT 0,
    points_expired bigint NOT NULL DEFAULT 0,
    cost numeric(22, 4) NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, reward_id, org_path, shard)
);

CREATE TABLE lifecycle_daily (
    day date NOT NULL,
    org_path text NOT NULL,
    from_stage text NOT NULL,
    to_stage text NOT NULL,
    customers bigint NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, org_path, from_stage, to_stage, shard)
);

-- The dashboard's day: per org unit and canvas ('' for work outside canvases).
CREATE TABLE activity_daily (
    day date NOT NULL,
    org_path text NOT NULL,
    canvas_id text NOT NULL,
    entered bigint NOT NULL DEFAULT 0,
    sends bigint NOT NULL DEFAULT 0,
    delivered bigint NOT NULL DEFAULT 0,
    clicks bigint NOT NULL DEFAULT 0,
    conversions bigint NOT NULL DEFAULT 0,
    converted_amount numeric(20, 2) NOT NULL DEFAULT 0,
    reward_cost numeric(22, 4) NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, org_path, canvas_id, shard)
);

CREATE TABLE event_daily (
    day date NOT NULL,
    org_path text NOT NULL,
    event_name text NOT NULL,
    events bigint NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, org_path, event_name, shard)
);
