-- Customers of the bank (DESIGN.md §3 "Profiles"). Built-in attributes are columns; custom ones, checked
-- against the attribute catalog, live in `attributes`. `org_path` is the owning unit's materialized path
-- (from the gateway's org tree) so that every scope check is a prefix test.
CREATE TABLE customers (
    id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    org_id             text NOT NULL,
    org_path           text NOT NULL CHECK (org_path ~ '^/([a-z0-9][a-z0-9_-]{0,31}/)+$'),
    name               text CHECK (length(name) <= 100),
    phone              text CHECK (phone ~ '^\+?[0-9]{5,20}$'),
    gender             text CHECK (gender IN ('male', 'female', 'other')),
    birth_date         date,
    city               text CHECK (length(city) <= 64),
    risk_level         text CHECK (risk_level IN ('C1', 'C2', 'C3', 'C4', 'C5')),
    aum                numeric(20, 2),
    deposit_balance    numeric(20, 2),
    is_payroll         boolean,
    has_credit_card    boolean,
    registered_at      timestamptz,
    last_active_at     timestamptz,
    account_manager_id text CHECK (length(account_manager_id) <= 64),
    attributes         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    marketing_opt_out  boolean NOT NULL DEFAULT false,
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Subtree listing in id order (keyset paging), name-prefix and phone-suffix search.
CREATE INDEX customers_scope ON customers (org_path text_pattern_ops, id);
CREATE INDEX customers_name_prefix ON customers (name text_pattern_ops) WHERE name IS NOT NULL;
CREATE INDEX customers_phone_suffix ON customers (reverse(phone) text_pattern_ops) WHERE phone IS NOT NULL;
