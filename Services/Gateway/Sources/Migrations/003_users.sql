-- People who sign in to the console. Passwords are bcrypt hashes (see 001); never plain text.
CREATE TABLE users (
    id             text PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{2,63}$'),
    password_hash  text NOT NULL,
    org_id         text NOT NULL REFERENCES org_units (id),
    roles          text[] NOT NULL DEFAULT '{}'
                   CHECK (roles <@ ARRAY['admin', 'operator', 'approver', 'analyst', 'viewer', 'account_manager']),
    -- Rights granted beyond those of the roles (e.g. `pii`).
    rights         text[] NOT NULL DEFAULT '{}'
                   CHECK (rights <@ ARRAY['view', 'edit', 'publish', 'manage', 'pii']),
    disabled       boolean NOT NULL DEFAULT false,
    -- Consecutive failed logins; reset by a successful one. `locked_until` is set when the limit is hit.
    failed_logins  integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_org ON users (org_id);
