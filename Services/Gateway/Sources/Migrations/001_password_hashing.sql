-- Password hashing with pgcrypto's bcrypt (crypt + gen_salt('bf', 10)).
--
-- pgcrypto is installed once per database in a schema of its own, so that dropping or renaming a
-- service schema never takes the extension with it; if the database already has pgcrypto in some
-- other schema (a DBA installed it), that installation is used. The two wrapper functions below live
-- in the identity schema and call the extension by its qualified name, so the gateway's SQL stays
-- independent of where pgcrypto lives and of the search_path.
--
-- The transaction-level advisory lock serializes this with any other schema's migration doing the
-- same at the same moment (CREATE EXTENSION IF NOT EXISTS is not safe against a concurrent twin).
SELECT pg_advisory_xact_lock(7405261180093375488);
CREATE SCHEMA IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA pgcrypto;

DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO STRICT ext_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pgcrypto';
    -- A new bcrypt hash (cost 10, random salt) of a password.
    EXECUTE format(
        'CREATE FUNCTION password_hash(password text) RETURNS text LANGUAGE sql VOLATILE STRICT AS %L',
        format('SELECT %I.crypt(password, %I.gen_salt(''bf'', 10))', ext_schema, ext_schema));
    -- Whether a password matches a stored hash (bcrypt recomputes with the hash's own salt and cost).
    EXECUTE format(
        'CREATE FUNCTION password_matches(password text, stored_hash text) RETURNS boolean LANGUAGE sql STABLE STRICT AS %L',
        format('SELECT %I.crypt(password, stored_hash) = stored_hash', ext_schema));
END
$$;
