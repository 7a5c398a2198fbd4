-- No query reads grants by (reward_id, status), and the index misled the planner: with the statistics of
-- a reward that had just turned hot it looked up an Idempotency-Key through all of that reward's grants
-- (thousands of rows per grant) instead of the unique (reward_id, idempotency_key) index, which also
-- serves every look-up by reward.
DROP INDEX grants_reward;
