-- Facts: every event analytics received, one row each, partitioned by the bank-local day of
-- occurred_at. Partitions are created ahead by the scheduled partition job (ensure_fact_partition);
-- a fact for a day without a partition lands in facts_default and moves into its day's partition
-- when that partition is created. Reports never scan this table: they read the rollups
-- (002_rollups.sql), which the same transaction as the fact insert keeps up to date.
CREATE TABLE facts (
    event_id uuid NOT NULL,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    customer_id text NOT NULL,
    org_path text NOT NULL,
    customer_org_path text,
    canvas_id text,
    canvas_version integer,
    node_id text,
    node_type text,
    arm text,
    planned_share double precision,
    channel text,
    message_id text,
    template_id text,
    provider text,
    reason text,
    reward_id text,
    reward_kind text,
    grant_id text,
    prize text,
    points bigint,
    cost numeric(18, 4),
    amount numeric(18, 2),
    event_name text,
    from_stage text,
    to_stage text,
    properties jsonb
) PARTITION BY RANGE (occurred_at);

CREATE TABLE facts_default PARTITION OF facts DEFAULT;

-- Creates the partition of one bank-local day (bounds at local midnight in p_zone), moving any rows
-- of that day out of facts_default first so that ATTACH finds the default partition consistent.
-- Returns false when the partition exists. Identifiers and bounds are quoted by format(%I, %L).
CREATE FUNCTION ensure_fact_partition(p_day date, p_zone text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'facts_' || to_char(p_day, 'YYYYMMDD');
    owner_schema text := current_schema();
    lo timestamptz := (p_day::timestamp AT TIME ZONE p_zone);
    hi timestamptz := ((p_day + 1)::timestamp AT TIME ZONE p_zone);
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(owner_schema || '.facts_partitions'));
    IF to_regclass(format('%I.%I', owner_schema, part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.facts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', owner_schema, part, owner_schema);
    EXECUTE format('WITH moved AS (DELETE FROM %I.facts_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
                   'INSERT INTO %I.%I SELECT * FROM moved', owner_schema, lo, hi, owner_schema, part);
    EXECUTE format('ALTER TABLE %I.facts ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   owner_schema, owner_schema, part, lo, hi);
    RETURN true;
END $$;
