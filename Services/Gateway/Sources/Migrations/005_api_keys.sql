-- Machine credentials for the bank's systems, scoped to an org unit and a set of rights.
-- Only the SHA-256 (hex) of the key is stored; the key is shown once, when created.
CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    org_id        text NOT NULL REFERENCES org_units (id),
    rights        text[] NOT NULL CHECK (rights <@ ARRAY['view', 'edit', 'publish', 'manage', 'pii']),
    -- The user (or key) that created it; kept as text so the record outlives the creator.
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

CREATE INDEX api_keys_org ON api_keys (org_id);
