-- Lottery prize pools (抽奖): a lottery is a reward of kind lottery whose stock counts draws; its prizes
-- have weights and their own stock; one consolation prize without a stock catches a drawn prize that is gone.
CREATE TABLE lottery_prizes (
    lottery_id  text NOT NULL REFERENCES rewards (id),
    prize_id    text NOT NULL,
    name        text NOT NULL,
    weight      integer NOT NULL CHECK (weight >= 0),
    stock       integer CHECK (stock >= 0),
    remaining   integer CHECK (remaining >= 0),
    unit_cost   numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    consolation boolean NOT NULL DEFAULT false,
    position    integer NOT NULL,
    PRIMARY KEY (lottery_id, prize_id)
);

-- 指定用户中奖: a whitelisted customer's next draw wins the designated prize (while it lasts).
CREATE TABLE lottery_designations (
    lottery_id  text NOT NULL REFERENCES rewards (id),
    customer_id text NOT NULL,
    prize_id    text NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (lottery_id, customer_id)
);
