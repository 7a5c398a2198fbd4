-- Breakpoint recall regardless of the order events arrive in. The relay does not keep order, so the
-- cancelling event B may arrive before the A it cancels, or an earlier B after a later A. A candidate
-- now remembers when its A occurred (only a B at or after it cancels), and every B a live recall
-- listens for is kept until the longest window it can cancel has passed, so an A arriving after its B
-- finds it and enters no candidate.
ALTER TABLE recall_candidates ADD COLUMN started_at timestamptz;

CREATE TABLE recall_cancels (
    customer_id text NOT NULL,
    event       text NOT NULL,
    occurred_at timestamptz NOT NULL,
    -- occurred_at plus the longest `within` of the live recalls it cancels when it arrived
    keep_until  timestamptz NOT NULL,
    PRIMARY KEY (customer_id, event, occurred_at)
);
CREATE INDEX recall_cancels_expiry ON recall_cancels (keep_until);
