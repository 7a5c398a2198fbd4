-- The typed catalog of custom customer attributes. Built-in attributes are not rows: they are fixed by
-- the product (CustomerField) and listed by the API beside these.
CREATE TABLE attribute_definitions (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-zA-Z0-9_]{0,63}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    type        text NOT NULL CHECK (type IN ('string', 'int', 'decimal', 'bool', 'date', 'timestamp', 'enum')),
    enum_values text[] CHECK ((type = 'enum') = (enum_values IS NOT NULL)),
    description text CHECK (length(description) <= 1000),
    org_id      text NOT NULL,
    org_path    text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
