-- Behaviour events (DESIGN.md §3 "Events"), partitioned by month of occurrence. Partitions are
-- created ahead by the service (EventPartitions); the default partition catches anything outside them.
CREATE TABLE events (
    event_id    text NOT NULL,
    customer_id text NOT NULL,
    org_path    text NOT NULL,
    name        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    properties  jsonb NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_by_customer ON events (customer_id, occurred_at DESC);

-- Idempotency by eventId across partitions (a partitioned table's unique keys must include the
-- partition key, and a repeat may carry another time).
CREATE TABLE event_ids (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Per-customer aggregates kept current by ingestion, for segments and splits: daily counts per event
-- name (days in the bank's time zone) and first/last occurrence with the total.
CREATE TABLE event_daily_counts (
    customer_id text NOT NULL,
    name        text NOT NULL,
    day         date NOT NULL,
    count       integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (customer_id, name, day)
);

CREATE TABLE event_summaries (
    customer_id text NOT NULL,
    name        text NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    total       bigint NOT NULL CHECK (total > 0),
    PRIMARY KEY (customer_id, name)
);

-- Aggregates are inputs of rules: their changes feed the change feed.
CREATE TRIGGER event_summaries_changed_insert AFTER INSERT ON event_summaries
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
CREATE TRIGGER event_summaries_changed_update AFTER UPDATE ON event_summaries
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
