-- The customer events the rewards service's facts become (MarketingFactReceiver): a customer's part in
-- marketing activities, for tag rules (activity tags such as 参与过抽奖), segments and canvases.
INSERT INTO event_types (name, display_name, description, properties, built_in) VALUES
    ('reward_granted', '获得权益', 'A reward (coupon, points, gift, external benefit) was granted to the customer.',
     '{"rewardId": {"type": "string"}, "rewardKind": {"type": "enum", "values": ["coupon", "points", "lottery", "gift", "external"]},
       "grantId": {"type": "string"}, "cost": {"type": "decimal"}, "canvasId": {"type": "string"}, "nodeId": {"type": "string"}}', true),
    ('reward_redeemed', '核销权益', 'The customer used a granted reward (核销).',
     '{"rewardId": {"type": "string"}, "rewardKind": {"type": "enum", "values": ["coupon", "points", "lottery", "gift", "external"]},
       "grantId": {"type": "string"}, "cost": {"type": "decimal"}, "canvasId": {"type": "string"}, "nodeId": {"type": "string"}}', true),
    ('reward_expired', '权益过期', 'A granted reward expired unused.',
     '{"rewardId": {"type": "string"}, "rewardKind": {"type": "enum", "values": ["coupon", "points", "lottery", "gift", "external"]},
       "grantId": {"type": "string"}, "cost": {"type": "decimal"}, "canvasId": {"type": "string"}, "nodeId": {"type": "string"}}', true),
    ('lottery_drawn', '参与抽奖', 'The customer drew a lottery; prize is what was won.',
     '{"rewardId": {"type": "string"}, "grantId": {"type": "string"}, "prize": {"type": "string"}, "cost": {"type": "decimal"},
       "canvasId": {"type": "string"}, "nodeId": {"type": "string"}, "rewardKind": {"type": "string"}}', true);
