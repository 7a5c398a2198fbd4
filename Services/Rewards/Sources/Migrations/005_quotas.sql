-- Head office allots quotas of a reward to branches (配额下发): a branch's grants are capped by its quota;
-- grants outside every allotted unit use the remainder row (org_path = the reward's own unit), created
-- with the first allotment. A reward without quotas has no rows here and no cap beyond its stock.
CREATE TABLE reward_quotas (
    reward_id text NOT NULL REFERENCES rewards (id),
    org_path  text NOT NULL,
    org_id    text NOT NULL,
    allotted  integer NOT NULL CHECK (allotted >= 0),
    used      integer NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= allotted),
    PRIMARY KEY (reward_id, org_path)
);
