-- Customer imports (DESIGN.md §3 "customers:import"). An upload is parsed and checked row by row while
-- it streams; good rows are COPY'd into `import_rows` (staging), bad ones into `import_errors`. A job
-- then merges staging into `customers` in batches: each batch's transaction merges its rows, deletes
-- them from staging and advances the counters here, so a killed worker resumes from the last committed
-- batch and no batch is ever half merged.
CREATE TABLE imports (
    id             text PRIMARY KEY CHECK (id ~ '^imp_[0-9a-f]{20}$'),
    -- The caller's unit: owner of new customers without orgId, and (its path) the import's scope.
    org_id         text NOT NULL,
    org_path       text NOT NULL CHECK (org_path ~ '^/([a-z0-9][a-z0-9_-]{0,31}/)+$'),
    created_by     text NOT NULL,
    request_id     text,
    format         text NOT NULL CHECK (format IN ('csv', 'ndjson')),
    -- receiving: the upload is streaming; merging: staged and queued or being merged; done; failed.
    status         text NOT NULL CHECK (status IN ('receiving', 'merging', 'done', 'failed')),
    total          bigint NOT NULL DEFAULT 0 CHECK (total >= 0),
    processed      bigint NOT NULL DEFAULT 0 CHECK (processed >= 0),
    accepted       bigint NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    rejected       bigint NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    -- Highest staged line already merged: the next batch starts after it.
    merged_through bigint NOT NULL DEFAULT 0,
    -- Errors kept in import_errors (capped); `rejected` counts them all.
    errors_stored  integer NOT NULL DEFAULT 0,
    failure        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX imports_scope ON imports (org_path text_pattern_ops, created_at);
-- Uploads whose process died: found by their stale heartbeat.
CREATE INDEX imports_receiving ON imports (updated_at) WHERE status = 'receiving';

-- Checked rows waiting to be merged. Built-in values are kept as their normalized text (cast on merge);
-- `present` is a bit set over the built-in fields (CustomerField order) the row sets — a clear bit keeps
-- the customer's value; a set bit with NULL clears it. `attributes` is the patch of custom attributes
-- (JSON null removes one).
CREATE TABLE import_rows (
    import_id          text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line               bigint NOT NULL,
    customer_id        text NOT NULL,
    present            integer NOT NULL,
    org_id             text,
    org_path           text,
    name               text,
    phone              text,
    gender             text,
    birth_date         text,
    city               text,
    risk_level         text,
    aum                text,
    deposit_balance    text,
    is_payroll         text,
    has_credit_card    text,
    registered_at      text,
    last_active_at     text,
    account_manager_id text,
    attributes         jsonb NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- Why rows were rejected (the first rows of each import; `imports.rejected` counts every one).
CREATE TABLE import_errors (
    import_id text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line      bigint NOT NULL,
    field     text,
    message   text NOT NULL,
    PRIMARY KEY (import_id, line)
);
