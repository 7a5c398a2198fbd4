-- The event-type catalog (DESIGN.md §3 "Events"): the names events may carry and the types of their
-- properties (`{"amount": {"type": "decimal"}, "channel": {"type": "enum", "values": [...]}}`), checked
-- on ingestion. Bank-wide like the attribute catalog: an event name means the same in every branch.
-- Built-in types (used by the platform itself: canvases, the dispatcher, lifecycle) have no owner.
CREATE TABLE event_types (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    description  text CHECK (length(description) <= 1000),
    properties   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    built_in     boolean NOT NULL DEFAULT false,
    org_id       text,
    org_path     text,
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (built_in OR (org_id IS NOT NULL AND org_path IS NOT NULL AND created_by IS NOT NULL))
);

INSERT INTO event_types (name, display_name, description, properties, built_in) VALUES
    ('app_login', '登录手机银行', 'The customer signed in to the mobile or web bank.',
     '{"channel": {"type": "enum", "values": ["app", "web", "wechat", "mini_program"]},
       "deviceType": {"type": "string"}, "appVersion": {"type": "string"}}', true),
    ('account_opened', '开户', 'An account was opened for the customer.',
     '{"accountType": {"type": "enum", "values": ["debit", "credit", "savings", "wealth", "fund", "other"]},
       "branchId": {"type": "string"}, "channel": {"type": "string"}}', true),
    ('card_bind_start', '开始绑卡', 'The customer started binding a card in the app.',
     '{"cardType": {"type": "enum", "values": ["debit", "credit"]}, "channel": {"type": "string"}}', true),
    ('card_bind_success', '绑卡成功', 'A card was bound successfully.',
     '{"cardType": {"type": "enum", "values": ["debit", "credit"]}, "bankCode": {"type": "string"},
       "channel": {"type": "string"}}', true),
    ('fund_purchase', '购买基金', 'The customer bought a fund or wealth product.',
     '{"productCode": {"type": "string"}, "amount": {"type": "decimal"},
       "productRiskLevel": {"type": "enum", "values": ["R1", "R2", "R3", "R4", "R5"]},
       "channel": {"type": "string"}}', true),
    ('message_clicked', '点击营销消息', 'A tracked link of a marketing message was opened.',
     '{"messageId": {"type": "string"}, "canvasId": {"type": "string"}, "templateId": {"type": "string"},
       "channel": {"type": "enum", "values": ["sms", "push", "inbox", "wechat", "wecom", "call", "email"]},
       "url": {"type": "string"}}', true),
    ('lifecycle_changed', '生命周期变化', 'The lifecycle stage of the customer changed.',
     '{"from": {"type": "enum", "values": ["new", "growing", "mature", "dormant", "churned"]},
       "to": {"type": "enum", "values": ["new", "growing", "mature", "dormant", "churned"]}}', true);
