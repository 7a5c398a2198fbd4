-- Console sessions. Only the SHA-256 (hex) of the bearer token is stored: a leaked table does not
-- yield usable tokens.
CREATE TABLE sessions (
    id            text PRIMARY KEY,
    token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id       text NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    -- Absolute end of life; the idle timeout is applied to `last_seen_at` by the gateway's settings.
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);

CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
