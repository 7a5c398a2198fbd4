-- Tags (DESIGN.md §1 标签体系): definitions and who carries them. One value per tag per customer
-- ('' for a plain membership tag such as `payroll_customer`; `L4` for `asset_tier`).
CREATE TABLE tag_definitions (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind        text NOT NULL CHECK (kind IN ('manual', 'rule', 'score', 'activity')),
    -- rule tags: the rule-language condition; score tags: buckets [{value, min, max}]
    rule        jsonb,
    tag_values  text[],
    buckets     jsonb,
    description text CHECK (length(description) <= 1000),
    org_id      text NOT NULL,
    org_path    text NOT NULL,
    is_template boolean NOT NULL DEFAULT false,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint NOT NULL DEFAULT 1,
    CHECK ((kind = 'rule') = (rule IS NOT NULL))
);

CREATE TABLE customer_tags (
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag_code    text NOT NULL REFERENCES tag_definitions (code) ON DELETE CASCADE,
    value       text NOT NULL DEFAULT '' CHECK (length(value) <= 100),
    score       numeric,
    source      text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, tag_code)
);
-- Members of a tag (search by tag, segment membership).
CREATE INDEX customer_tags_by_tag ON customer_tags (tag_code, value, customer_id);

CREATE TRIGGER customer_tags_changed_insert AFTER INSERT ON customer_tags
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
CREATE TRIGGER customer_tags_changed_update AFTER UPDATE ON customer_tags
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
CREATE TRIGGER customer_tags_changed_delete AFTER DELETE ON customer_tags
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_customer_changes();
