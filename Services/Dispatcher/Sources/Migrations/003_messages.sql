-- Messages: one row per send (and per fallback), found again by its idempotency key. Delivery work
-- is the ServiceKit job queue (queue `dispatch.send`), enqueued in the same transaction.
CREATE TABLE messages (
    id               text PRIMARY KEY CHECK (id ~ '^msg_[a-z0-9]{1,60}$'),
    idempotency_key  text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 300),
    customer_id      text NOT NULL,
    org_path         text NOT NULL,
    channel          text NOT NULL CHECK (channel IN ('sms', 'push', 'inbox', 'wechat', 'wecom', 'call', 'email')),
    fallback_channel text CHECK (fallback_channel IN ('sms', 'push', 'inbox', 'wechat', 'wecom', 'call', 'email')),
    fallback_of      text REFERENCES messages (id),
    fallback_template_id text REFERENCES templates (id),
    template_id      text NOT NULL REFERENCES templates (id),
    kind             text NOT NULL CHECK (kind IN ('marketing', 'transactional')),
    canvas_id        text,
    node_id          text,
    campaign_id      text,
    status           text NOT NULL CHECK (status IN ('queued', 'deferred', 'sent', 'delivered', 'failed', 'suppressed')),
    reason           text,
    title            text,
    body             text NOT NULL,
    recipient        text,
    provider_id      text REFERENCES providers (id),
    provider_ref     text,
    attempts         integer NOT NULL DEFAULT 0,
    deliver_after    timestamptz,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    delivered_at     timestamptz,
    CHECK (status <> 'suppressed' OR reason IS NOT NULL)
);
CREATE INDEX messages_by_customer ON messages (customer_id, id);
CREATE INDEX messages_by_canvas ON messages (canvas_id, id) WHERE canvas_id IS NOT NULL;
CREATE INDEX messages_by_recipient ON messages (recipient, created_at DESC) WHERE recipient IS NOT NULL;

-- Sends counted per customer, scope (a channel, `*` for all channels, `campaign:<id>`) and bank-local
-- day, for frequency caps across all campaigns. Rows older than the longest window are purged.
CREATE TABLE frequency_counters (
    customer_id text NOT NULL,
    scope       text NOT NULL,
    day         date NOT NULL,
    sends       integer NOT NULL CHECK (sends >= 0),
    PRIMARY KEY (customer_id, scope, day)
);

-- Per-provider rate: sends granted in each second, shared by every replica.
CREATE TABLE provider_rate_windows (
    provider_id text NOT NULL,
    second      bigint NOT NULL,
    used        integer NOT NULL,
    PRIMARY KEY (provider_id, second)
);

-- The in-app inbox the bank's app reads.
CREATE TABLE inbox_items (
    message_id  text PRIMARY KEY REFERENCES messages (id),
    customer_id text NOT NULL,
    title       text,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX inbox_by_customer ON inbox_items (customer_id, message_id DESC);

-- Tracked short links of sent messages.
CREATE TABLE links (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9]{10,32}$'),
    message_id  text NOT NULL REFERENCES messages (id),
    customer_id text NOT NULL,
    url         text NOT NULL,
    clicks      integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
