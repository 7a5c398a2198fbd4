-- Late facts, redelivered facts and experiments whose canvas changed its split between versions.

-- Partitions are also made on demand, by the ingest of a fact whose day has none (FactStore): a late
-- fact gets its own day's partition rather than a row in facts_default. The existence check therefore
-- comes before the lock too, so that ingest transactions never queue on it for a day that exists; after
-- the lock it is a catalog query (a fresh snapshot sees a partition another transaction just made).
CREATE OR REPLACE FUNCTION ensure_fact_partition(p_day date, p_zone text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'facts_' || to_char(p_day, 'YYYYMMDD');
    owner_schema text := current_schema();
    lo timestamptz := (p_day::timestamp AT TIME ZONE p_zone);
    hi timestamptz := ((p_day + 1)::timestamp AT TIME ZONE p_zone);
BEGIN
    IF to_regclass(format('%I.%I', owner_schema, part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(owner_schema || '.facts_partitions'));
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = part AND relnamespace = owner_schema::regnamespace) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.facts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', owner_schema, part, owner_schema);
    -- Rows of that day that waited in the default partition move first: ATTACH refuses a default
    -- partition holding rows of the new bounds.
    EXECUTE format('WITH moved AS (DELETE FROM %I.facts_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
                   'INSERT INTO %I.%I SELECT * FROM moved', owner_schema, lo, hi, owner_schema, part);
    EXECUTE format('ALTER TABLE %I.facts ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   owner_schema, owner_schema, part, lo, hi);
    RETURN true;
END $$;

-- A fact is stored once whatever path delivers it again (an id the inbox has purged, a replayed
-- batch): the store inserts ON CONFLICT DO NOTHING and counts only the rows it inserted. A unique
-- index of a partitioned table must hold the partition key; an event's occurred_at is part of the
-- event, so a redelivery carries the same one and lands on the same key.
CREATE UNIQUE INDEX facts_event_key ON facts (event_id, occurred_at);

-- Experiments per canvas version: a new version may change the A/B weights, so the sample-ratio check
-- compares each version's customers with that version's plan. -1 stands for an entry that did not
-- name its version (a key column cannot be NULL).
ALTER TABLE experiment_members ADD COLUMN canvas_version integer;

ALTER TABLE experiment_arms ADD COLUMN canvas_version integer NOT NULL DEFAULT -1;
ALTER TABLE experiment_arms DROP CONSTRAINT experiment_arms_pkey;
ALTER TABLE experiment_arms ADD PRIMARY KEY (canvas_id, canvas_version, arm, org_path, shard);

ALTER TABLE experiment_plans ADD COLUMN canvas_version integer NOT NULL DEFAULT -1;
ALTER TABLE experiment_plans DROP CONSTRAINT experiment_plans_pkey;
ALTER TABLE experiment_plans ADD PRIMARY KEY (canvas_id, canvas_version, arm);
