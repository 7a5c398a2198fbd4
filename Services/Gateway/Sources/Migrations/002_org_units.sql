-- The bank's organisation tree: head office → branch → sub-branch. `path` is materialized from the
-- ids (`/hq/sh/pd/`) so that "in my subtree" is a prefix test on every record of every service.
CREATE TABLE org_units (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    parent_id   text REFERENCES org_units (id),
    path        text NOT NULL UNIQUE CHECK (path ~ '^/([a-z0-9][a-z0-9_-]{0,31}/)+$'),
    kind        text NOT NULL CHECK (kind IN ('head_office', 'branch', 'sub_branch')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Only the head office is a root; the kind rules for parents are checked by the gateway.
    CHECK ((kind = 'head_office') = (parent_id IS NULL))
);

-- One head office per installation.
CREATE UNIQUE INDEX org_units_one_head_office ON org_units (kind) WHERE kind = 'head_office';
CREATE INDEX org_units_parent ON org_units (parent_id);
-- Subtree scans (`starts_with(path, $1)` / prefix LIKE) and keyset paging by path.
CREATE INDEX org_units_path_prefix ON org_units (path text_pattern_ops);
