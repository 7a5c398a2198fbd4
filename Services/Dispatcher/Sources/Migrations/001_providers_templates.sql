-- Providers per channel (DESIGN.md §3 "Channels and messages"): where a channel's messages are sent.
-- `receipt_secret` authenticates the provider's callbacks (POST /api/v1/receipts/{provider}); it is
-- generated here and shown once, at creation.
CREATE TABLE providers (
    id              text PRIMARY KEY CHECK (id ~ '^prv_[a-z0-9]{1,60}$'),
    channel         text NOT NULL CHECK (channel IN ('sms', 'push', 'inbox', 'wechat', 'wecom', 'call', 'email')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    endpoint        text NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 2000),
    credentials     text,
    receipt_secret  text NOT NULL CHECK (length(receipt_secret) >= 32),
    rate_per_second integer NOT NULL CHECK (rate_per_second BETWEEN 1 AND 100000),
    timeout_ms      integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 60000),
    org_id          text NOT NULL,
    org_path        text NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel, name)
);
CREATE INDEX providers_by_channel ON providers (channel, created_at, id);

-- Message templates; usable for sends only once approved. A change returns it to `pending`.
CREATE TABLE templates (
    id                 text PRIMARY KEY CHECK (id ~ '^tpl_[a-z0-9]{1,60}$'),
    channel            text NOT NULL CHECK (channel IN ('sms', 'push', 'inbox', 'wechat', 'wecom', 'call', 'email')),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    title              text,
    body               text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    kind               text NOT NULL CHECK (kind IN ('marketing', 'transactional')),
    product_risk_level text CHECK (product_risk_level IN ('R1', 'R2', 'R3', 'R4', 'R5')),
    investment         boolean NOT NULL DEFAULT false,
    variables          text[] NOT NULL DEFAULT '{}',
    status             text NOT NULL CHECK (status IN ('pending', 'approved')),
    org_id             text NOT NULL,
    org_path           text NOT NULL,
    created_by         text NOT NULL,
    approved_by        text,
    approved_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    version            bigint NOT NULL DEFAULT 1,
    CHECK ((status = 'approved') = (approved_by IS NOT NULL))
);
CREATE INDEX templates_by_org_path ON templates (org_path text_pattern_ops);
