-- Rule tags and lifecycle (issue 4 items 4 and 5): the rule-tag worker's position in the change feed,
-- its periodic sweep for time windows, and the lifecycle stages.

-- Where the rule-tag worker stands in `customer_changes` (same (tx, seq) order as ChangeFeed). One row
-- per follower; replicas claim it FOR UPDATE SKIP LOCKED, so only one evaluates a page at a time.
CREATE TABLE rule_tag_cursors (
    name       text PRIMARY KEY,
    tx         xid8 NOT NULL DEFAULT '0',
    seq        bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rule_tag_cursors (name) VALUES ('customer_changes');

-- The sweep that re-evaluates rule tags whose result moves with time (`within` windows). It walks all
-- customers by id in batches; `after_id` is where the running sweep stands (NULL: none running).
-- `full_pending` asks the next sweep to evaluate every rule tag (a rule tag was created, or the
-- lifecycle stages changed), not only those with time windows.
CREATE TABLE rule_tag_sweeps (
    name         text PRIMARY KEY,
    next_due_at  timestamptz NOT NULL DEFAULT now(),
    after_id     text,
    full_pending boolean NOT NULL DEFAULT false,
    full_running boolean NOT NULL DEFAULT false,
    started_at   timestamptz,
    finished_at  timestamptz
);
INSERT INTO rule_tag_sweeps (name) VALUES ('time_windows');

-- Lifecycle stages (DESIGN.md §1: 新手/引入期, 成长期, 成熟期, 休眠期, 流失期), tried in `position` order:
-- the first stage whose rule holds is the customer's stage; a NULL rule (last position only) matches
-- every customer. Defaults for a retail bank; `PUT /api/v1/lifecycle` replaces them.
CREATE TABLE lifecycle_stages (
    position   integer PRIMARY KEY CHECK (position BETWEEN 0 AND 4),
    stage      text NOT NULL UNIQUE CHECK (stage IN ('new', 'growing', 'mature', 'dormant', 'churned')),
    rule       jsonb,
    updated_by text NOT NULL DEFAULT 'system',
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO lifecycle_stages (position, stage, rule) VALUES
    (0, 'new', '{"attr": "registeredAt", "op": "within", "value": "30d"}'),
    (1, 'churned', '{"all": [{"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "180d"},
                             {"not": {"attr": "aum", "op": "gte", "value": 10000}}]}'),
    (2, 'dormant', '{"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "90d"}'),
    (3, 'mature', '{"attr": "aum", "op": "gte", "value": 500000}'),
    (4, 'growing', NULL);

-- The built-in rule tag carrying the stage as its value. Owned by no unit ('/' is above every path) and a
-- template, so every unit sees it. Its `rule` is informational (any stage with a rule); the worker
-- decides the value from lifecycle_stages.
INSERT INTO tag_definitions (code, name, kind, rule, tag_values, description, org_id, org_path, is_template, created_by)
VALUES ('lifecycle', '客户生命周期', 'rule',
        '{"any": [{"attr": "registeredAt", "op": "within", "value": "30d"},
                  {"all": [{"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "180d"},
                           {"not": {"attr": "aum", "op": "gte", "value": 10000}}]},
                  {"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "90d"},
                  {"attr": "aum", "op": "gte", "value": 500000}]}',
        ARRAY['new', 'growing', 'mature', 'dormant', 'churned'],
        'Customer lifecycle stage (built in): new 新手/引入期, growing 成长期, mature 成熟期, dormant 休眠期, churned 流失期',
        'system', '/', true, 'system');

-- Listing a unit's tags and templates.
CREATE INDEX tag_definitions_by_org ON tag_definitions (org_path, code);
