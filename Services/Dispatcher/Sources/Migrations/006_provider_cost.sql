-- What one message through a provider costs the bank (CNY), for analytics' channel cost and ROI.
ALTER TABLE providers ADD COLUMN unit_cost numeric(12, 4) NOT NULL DEFAULT 0 CHECK (unit_cost >= 0);
