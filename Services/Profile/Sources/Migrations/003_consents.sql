-- Consent per channel and the global marketing opt-out (channel `marketing`), current state plus the
-- evidence of every change: when, from which source, recorded by whom, in which request. The evidence
-- is append-only (PIPL Art. 13–15: consent and its withdrawal must be provable).
CREATE TABLE consents (
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel     text NOT NULL CHECK (channel IN ('sms', 'push', 'inbox', 'wechat', 'wecom', 'call', 'email', 'marketing')),
    granted     boolean NOT NULL,
    source      text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (customer_id, channel)
);

CREATE TABLE consent_evidence (
    id          bigserial PRIMARY KEY,
    customer_id text NOT NULL,
    channel     text NOT NULL,
    granted     boolean NOT NULL,
    source      text NOT NULL,
    changed_at  timestamptz NOT NULL,
    recorded_by text,
    request_id  text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_evidence_customer ON consent_evidence (customer_id, id);

CREATE FUNCTION consent_evidence_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent evidence is append-only';
END $$;
CREATE TRIGGER consent_evidence_append_only BEFORE UPDATE OR DELETE ON consent_evidence
    FOR EACH ROW EXECUTE FUNCTION consent_evidence_is_append_only();
