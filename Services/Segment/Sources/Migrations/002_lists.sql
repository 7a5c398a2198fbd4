-- White and black lists (DESIGN.md §3): uploaded customer ids, named in rules as {"list": id}. A global
-- black list (head office only) is excluded from every audience of the bank.
CREATE TABLE customer_lists (
    id          text PRIMARY KEY CHECK (id ~ '^lst_[a-z0-9]{1,60}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind        text NOT NULL CHECK (kind IN ('white', 'black')),
    is_global   boolean NOT NULL DEFAULT false,
    org_id      text NOT NULL,
    org_path    text NOT NULL,
    created_by  text NOT NULL,
    size        bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint NOT NULL DEFAULT 1,
    CHECK (NOT is_global OR kind = 'black')
);
CREATE INDEX customer_lists_by_org_path ON customer_lists (org_path text_pattern_ops);
CREATE INDEX customer_lists_global ON customer_lists (id) WHERE is_global;

CREATE TABLE customer_list_members (
    list_id     text NOT NULL REFERENCES customer_lists (id) ON DELETE CASCADE,
    customer_id text NOT NULL,
    PRIMARY KEY (list_id, customer_id)
);
