-- The audit trail: one row per mutating request through the gateway (and per login attempt).
--
-- Append-only by construction: a statement-level trigger refuses every UPDATE, DELETE and TRUNCATE,
-- so neither an API nor a bug in the gateway can change or remove a row. Rows are kept forever here;
-- archiving is an operator's job with the trigger knowingly disabled.
--
-- No foreign keys: an entry must outlive the user, org unit or key it names, and an insert must never
-- fail because of the state of another table.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_id text CHECK (octet_length(actor_id) <= 200),
    actor_name text CHECK (octet_length(actor_name) <= 200),
    org_id text CHECK (octet_length(org_id) <= 200),
    -- The actor's org unit path (`/hq/sh/`); NULL for anonymous attempts (visible to head office only).
    org_path text CHECK (octet_length(org_path) <= 1000),
    -- `METHOD /route/pattern`, e.g. `POST /api/v1/users`.
    action text NOT NULL CHECK (octet_length(action) BETWEEN 1 AND 600),
    -- The concrete path acted on, e.g. `/api/v1/users/u_12`.
    resource text NOT NULL CHECK (octet_length(resource) <= 4096),
    -- The HTTP status answered.
    outcome integer NOT NULL CHECK (outcome BETWEEN 0 AND 999),
    request_id text NOT NULL CHECK (octet_length(request_id) <= 200),
    remote_address text CHECK (octet_length(remote_address) <= 100)
);

-- Listing is newest first by id (keyset paging); the filters below narrow it.
CREATE INDEX audit_log_actor_id ON audit_log (actor_id, id);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name, id);
CREATE INDEX audit_log_at ON audit_log (at);
-- text_pattern_ops: prefix matches (`LIKE 'x%'`) on the resource and on the org subtree use the index.
CREATE INDEX audit_log_resource ON audit_log (resource text_pattern_ops);
CREATE INDEX audit_log_org_path ON audit_log (org_path text_pattern_ops);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit entries can only be inserted';
END
$$;

-- Statement level: fires even when no row matches, and covers TRUNCATE (which row triggers do not see).
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
