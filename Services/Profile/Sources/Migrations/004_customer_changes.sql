-- The change feed for the segment service: one row per customer per writing statement whose attributes,
-- consents, tags or aggregates changed. Statement triggers fill it, so no writer can forget to.
--
-- Readers page by (tx, seq) and only read rows of transactions older than the oldest one still running
-- (`pg_snapshot_xmin`): a sequence alone would skip rows of a transaction that commits after a later
-- one (ENGINEERING-NOTES "Outbox").
CREATE TABLE customer_changes (
    seq         bigserial,
    tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    customer_id text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tx, seq)
);

CREATE FUNCTION record_customer_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_changes (customer_id) SELECT DISTINCT customer_id FROM changed_rows;
    RETURN NULL;
END $$;

-- customers has `id`, not `customer_id`: a view of the transition table renames it.
CREATE FUNCTION record_customer_row_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_changes (customer_id) SELECT DISTINCT id FROM changed_rows;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_changed_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_row_changes();
CREATE TRIGGER customers_changed_update AFTER UPDATE ON customers
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_row_changes();
CREATE TRIGGER consents_changed_insert AFTER INSERT ON consents
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
CREATE TRIGGER consents_changed_update AFTER UPDATE ON consents
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
