-- A lottery's grants cost their prize, not the reward's unit cost, so its budget cannot be enforced in
-- units alone: the money its drawn prizes have spent is counted on the lottery's row, and a draw that
-- the remaining budget cannot pay for gets the consolation prize. Counted only for lotteries with a budget.
ALTER TABLE rewards ADD COLUMN prize_spent numeric(16, 2) NOT NULL DEFAULT 0;
UPDATE rewards r SET prize_spent = coalesce((SELECT sum(g.cost) FROM grants g WHERE g.reward_id = r.id AND g.status <> 'revoked'), 0)
 WHERE r.kind = 'lottery' AND r.budget IS NOT NULL;
ALTER TABLE rewards ADD CONSTRAINT rewards_prize_spent_within_budget CHECK (prize_spent >= 0 AND (budget IS NULL OR prize_spent <= budget));
