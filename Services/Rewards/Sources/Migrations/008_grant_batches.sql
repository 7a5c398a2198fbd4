-- A batch of grants (GrantBatch) fails its whole statement with this when a usage row refused a grant
-- whose stock unit the statement had already taken, so that no unit leaks; every grant of that batch is
-- then granted on its own.
CREATE FUNCTION grant_batch_refused(reason text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'grant batch refused: %', reason USING ERRCODE = 'P0001';
END
$$;
