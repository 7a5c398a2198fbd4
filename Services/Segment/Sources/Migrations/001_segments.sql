-- Segments (DESIGN.md §3 "Segments"): named audiences described by a rule. A dynamic segment's members
-- are computed from the in-memory index whenever asked; a snapshot segment's members are frozen here
-- when it is created or refreshed. Each belongs to the org unit that made it: a caller sees the
-- segments of its subtree.
CREATE TABLE segments (
    id           text PRIMARY KEY CHECK (id ~ '^seg_[a-z0-9]{1,60}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind         text NOT NULL CHECK (kind IN ('dynamic', 'snapshot')),
    rule         jsonb NOT NULL,
    org_id       text NOT NULL,
    org_path     text NOT NULL,
    created_by   text NOT NULL,
    -- the size when last computed (creation or refresh); a dynamic segment's live size is the index's
    member_count bigint NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1
);
CREATE INDEX segments_by_org_path ON segments (org_path text_pattern_ops);

-- The frozen members of snapshot segments.
CREATE TABLE segment_members (
    segment_id  text NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    customer_id text NOT NULL,
    PRIMARY KEY (segment_id, customer_id)
);
