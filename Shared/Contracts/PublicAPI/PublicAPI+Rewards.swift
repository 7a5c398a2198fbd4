/// The rewards service's endpoints (DESIGN.md §3 "Rewards"): the catalog and its approval, grants with
/// their redemption and revocation, a customer's rewards, the points ledger and lottery draws.
extension PublicAPI {
    static let rewardKinds = ["coupon", "points", "lottery", "gift", "external"]
    static let grantStatuses = ["granted", "redeemed", "expired", "revoked"]
    static let money = "CNY as a decimal string (\"12.50\"), never a binary number."

    /// The 409 codes of a grant (the canvas relies on exactly these).
    static let grantRefusals = "409 codes: out_of_stock (no unit left), budget_exhausted (the budget's units are used up), "
        + "limit_reached (the customer's total or per-day limit), not_approved (the reward awaits approval), "
        + "expired (now is outside the reward's fixed validity), quota_exhausted (the caller's unit used up its quota), idempotency_conflict (this Idempotency-Key was used with another body). "
        + "422 external_refused: an external reward's provider refused the benefit for good (a 4xx, or no answer after the bounded retries); "
        + "the grant is revoked with the reason and its unit, budget, limit counts and quota are returned (details.grantId). "
        + "201 a new grant; 200 the same grant again for a repeated Idempotency-Key."

    static var rewardsSchemas: [String: JSONValue] {
        let prize = JSONSchema.object([
            "id": JSONSchema.string(minLength: 1, maxLength: 64), "name": JSONSchema.string(minLength: 1, maxLength: 100),
            "weight": JSONSchema.integer(minimum: 0, maximum: 1_000_000), "stock": JSONSchema.integer(minimum: 0),
            "unitCost": JSONSchema.string(description: money),
        ], required: ["id", "name", "weight", "stock"])
        return [
            "Reward": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^rwd_[a-z0-9]{1,60}$"),
                "code": JSONSchema.string(), "name": JSONSchema.string(), "description": JSONSchema.nullable(JSONSchema.string()),
                "kind": JSONSchema.string(enumeration: rewardKinds),
                "couponType": JSONSchema.nullable(JSONSchema.string(enumeration: ["cash", "rate_boost", "fee_waiver"])),
                "faceValue": JSONSchema.nullable(JSONSchema.string(description: "cash and fee_waiver: CNY; rate_boost: percentage points.")),
                "points": JSONSchema.nullable(JSONSchema.integer(description: "Points credited by a grant of a points reward.")),
                "providerUrl": JSONSchema.nullable(JSONSchema.string()),
                "stock": JSONSchema.integer(), "grantable": JSONSchema.integer(description: "min(stock, floor(budget / unitCost)): units a grant may take."),
                "remaining": JSONSchema.integer(), "granted": JSONSchema.integer(),
                "unitCost": JSONSchema.string(description: money), "budget": JSONSchema.nullable(JSONSchema.string(description: money)),
                "perCustomerLimit": JSONSchema.nullable(JSONSchema.integer()), "perDayLimit": JSONSchema.nullable(JSONSchema.integer()),
                "validity": JSONSchema.object(["days": JSONSchema.integer(), "from": JSONSchema.dateTime, "until": JSONSchema.dateTime]),
                "lottery": JSONSchema.nullable(JSONSchema.object([
                    "prizes": JSONSchema.array(prize), "consolation": JSONSchema.object([:]),
                    "pointsPerDraw": JSONSchema.nullable(JSONSchema.integer()), "designatedCustomers": JSONSchema.integer(),
                ])),
                "status": JSONSchema.string(enumeration: ["pending", "approved"]),
                "orgId": JSONSchema.string(), "createdBy": JSONSchema.string(),
                "approvedBy": JSONSchema.nullable(JSONSchema.string()), "approvedAt": JSONSchema.nullable(JSONSchema.dateTime),
                "createdAt": JSONSchema.dateTime, "updatedAt": JSONSchema.dateTime,
            ], required: ["id", "code", "name", "kind", "stock", "grantable", "remaining", "granted", "unitCost", "validity", "status", "orgId",
                          "createdBy", "createdAt", "updatedAt"]),
            "Grant": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^grt_[a-z0-9]{1,60}$"),
                "rewardId": JSONSchema.string(), "rewardCode": JSONSchema.string(), "rewardName": JSONSchema.string(),
                "kind": JSONSchema.string(enumeration: rewardKinds), "customerId": JSONSchema.string(),
                "status": JSONSchema.string(enumeration: grantStatuses), "cost": JSONSchema.string(description: money),
                "validFrom": JSONSchema.dateTime, "validUntil": JSONSchema.dateTime,
                "canvasId": JSONSchema.nullable(JSONSchema.string()), "nodeId": JSONSchema.nullable(JSONSchema.string()),
                "prize": JSONSchema.nullable(JSONSchema.object(["id": JSONSchema.string(), "name": JSONSchema.string()])),
                "consolation": JSONSchema.boolean,
                "externalRef": JSONSchema.nullable(JSONSchema.string(description: "The provider's reference of an external benefit.")),
                "externalStatus": JSONSchema.nullable(JSONSchema.string(enumeration: ["pending", "fetched", "failed", "cancelled"],
                    description: "pending: being fetched (5xx and timeouts are retried a bounded number of times); failed: refused, the grant revoked; "
                        + "cancelled: the grant was revoked or expired before the provider answered, and the provider is not asked again.")),
                "grantedBy": JSONSchema.string(), "grantedAt": JSONSchema.dateTime,
                "redeemedAt": JSONSchema.nullable(JSONSchema.dateTime), "redeemedBy": JSONSchema.nullable(JSONSchema.string()),
                "revokedAt": JSONSchema.nullable(JSONSchema.dateTime), "revokeReason": JSONSchema.nullable(JSONSchema.string()),
                "expiredAt": JSONSchema.nullable(JSONSchema.dateTime),
            ], required: ["id", "rewardId", "kind", "customerId", "status", "cost", "validFrom", "validUntil", "grantedBy", "grantedAt"]),
            "RewardQuota": JSONSchema.object([
                "orgId": JSONSchema.string(), "orgPath": JSONSchema.string(),
                "remainder": JSONSchema.boolean, "allotted": JSONSchema.integer(minimum: 0), "used": JSONSchema.integer(minimum: 0),
            ], required: ["orgId", "orgPath", "remainder", "allotted", "used"]),
            "PointsMove": JSONSchema.object([
                "operation": JSONSchema.object([
                    "id": JSONSchema.string(), "kind": JSONSchema.string(enumeration: ["earn", "spend", "expire"]), "points": JSONSchema.integer(),
                    "reason": JSONSchema.nullable(JSONSchema.string()), "createdAt": JSONSchema.dateTime,
                ], required: ["id", "kind", "points", "createdAt"]),
                "balance": JSONSchema.integer(minimum: 0),
            ], required: ["operation", "balance"]),
            "PointsAccount": JSONSchema.object([
                "customerId": JSONSchema.string(), "balance": JSONSchema.integer(minimum: 0, description: "Points in unexpired lots the caller's unit sees: its subtree's and its "
                    + "ancestors' (another branch's points are not shown, nor spent)."),
                "lots": JSONSchema.array(JSONSchema.object([
                    "id": JSONSchema.string(), "earned": JSONSchema.integer(), "remaining": JSONSchema.integer(),
                    "expiresAt": JSONSchema.dateTime, "earnedAt": JSONSchema.dateTime,
                ])),
                "ledger": JSONSchema.page(of: JSONSchema.object([
                    "id": JSONSchema.string(), "kind": JSONSchema.string(enumeration: ["earn", "spend", "expire"]),
                    "points": JSONSchema.integer(description: "Positive for earn, negative for spend and expire."),
                    "lotId": JSONSchema.string(), "operationId": JSONSchema.string(), "reason": JSONSchema.nullable(JSONSchema.string()),
                    "createdAt": JSONSchema.dateTime,
                ])),
            ], required: ["customerId", "balance", "lots", "ledger"]),
        ]
    }

    static func rewardsEndpoint(_ method: String, _ path: String, _ operationId: String, _ tag: String, _ access: PublicEndpoint.Access,
                                _ summary: String, _ summaryZh: String, request: JSONValue? = nil, status: Int = 200,
                                response: JSONValue? = nil, query: [PublicQueryParameter] = [], idempotent: Bool = false) -> PublicEndpoint {
        PublicEndpoint(method: method, path: path, service: "rewards", operationId: operationId, summary: summary, summaryZh: summaryZh,
                       tag: tag, access: access, requestBody: request, successStatus: status, response: response, queryParameters: query,
                       acceptsIdempotencyKey: idempotent)
    }

    static var rewardsEndpoints: [PublicEndpoint] {
        func recipient(_ answers: String) -> JSONValue {
            JSONSchema.object([
                "customerId": JSONSchema.string(minLength: 1, maxLength: 64),
                "canvasId": JSONSchema.string(maxLength: 64, description: "The canvas whose step granted it (carried into the facts)."),
                "nodeId": JSONSchema.string(maxLength: 64),
            ], required: ["customerId"], description: grantRefusals + answers + " Requires the Idempotency-Key header.")
        }
        let customer = recipient(" 422 reward_is_lottery: a lottery is drawn with POST /api/v1/lotteries/{id}:draw.")
        let draw = recipient(" 409 insufficient_points: the draw costs more points than the customer has."
                             + " 422 reward_not_lottery: the reward is not a lottery.")
        let lotteryPrize = JSONSchema.object([
            "id": JSONSchema.string(minLength: 1, maxLength: 64), "name": JSONSchema.string(minLength: 1, maxLength: 100),
            "weight": JSONSchema.integer(minimum: 0, maximum: 1_000_000), "stock": JSONSchema.integer(minimum: 0),
            "unitCost": JSONSchema.string(description: money),
        ], required: ["id", "name", "weight", "stock"])
        let create = JSONSchema.object([
            "code": JSONSchema.string(pattern: "^[A-Za-z0-9_-]{1,64}$"),
            "name": JSONSchema.string(minLength: 1, maxLength: 100),
            "description": JSONSchema.string(maxLength: 2000),
            "kind": JSONSchema.string(enumeration: rewardKinds),
            "couponType": JSONSchema.string(enumeration: ["cash", "rate_boost", "fee_waiver"], description: "Coupons only (加息券 = rate_boost)."),
            "faceValue": JSONSchema.string(description: "Coupons: CNY off or waived, or percentage points of a rate boost (up to 4 decimals)."),
            "points": JSONSchema.integer(minimum: 1, description: "Points rewards: points a grant credits."),
            "providerUrl": JSONSchema.string(maxLength: 2000, description: "External rewards: the provider, called with the grant id as Idempotency-Key."),
            "stock": JSONSchema.integer(minimum: 0, maximum: 100_000_000, description: "Lotteries: the number of draws."),
            "unitCost": JSONSchema.string(description: money),
            "budget": JSONSchema.string(description: money + " Grants stop (budget_exhausted) once unitCost × granted would pass it."),
            "perCustomerLimit": JSONSchema.integer(minimum: 1, description: "Grants (draws) per customer in total."),
            "perDayLimit": JSONSchema.integer(minimum: 1, description: "Grants (draws) per customer per bank-local day."),
            "validity": JSONSchema.object(["days": JSONSchema.integer(minimum: 1, maximum: 3650), "from": JSONSchema.dateTime,
                                           "until": JSONSchema.dateTime], description: "{days} from the grant, or fixed {from, until}."),
            "lottery": JSONSchema.object([
                "prizes": JSONSchema.array(lotteryPrize, maxItems: 50),
                "consolation": JSONSchema.object(["id": JSONSchema.string(), "name": JSONSchema.string(), "unitCost": JSONSchema.string()],
                                                 required: ["id", "name"], description: "Given when the drawn prize is gone; no stock."),
                "pointsPerDraw": JSONSchema.integer(minimum: 1, description: "Points a draw spends (409 insufficient_points)."),
                "designated": JSONSchema.array(JSONSchema.object(["customerId": JSONSchema.string(), "prizeId": JSONSchema.string()],
                                                                 required: ["customerId", "prizeId"]), maxItems: 10000),
            ], required: ["prizes", "consolation"], description: "Lotteries only."),
        ], required: ["code", "name", "kind", "stock", "unitCost", "validity"])
        let points = JSONSchema.object([
            "points": JSONSchema.integer(minimum: 1, maximum: 100_000_000), "reason": JSONSchema.string(maxLength: 200),
            "validDays": JSONSchema.integer(minimum: 1, maximum: 3650, description: "Earn only: the lot expires after this many days (default 365)."),
            "expiresAt": JSONSchema.dateTime,
        ], required: ["points"], description: "Requires the Idempotency-Key header; a repeat answers 200 with the first move. "
                      + "409 insufficient_points (spend), idempotency_conflict.")
        let page = [PublicQueryParameter.limit(maximum: 200), .cursor]
        return [
            rewardsEndpoint("GET", "/api/v1/rewards", "listRewards", "Rewards", .right("view"), "Rewards in the catalog", "列出权益目录",
                            response: JSONSchema.page(of: JSONSchema.ref("Reward")),
                            query: page + [PublicQueryParameter(name: "kind", schema: JSONSchema.string(enumeration: rewardKinds), description: "Only this kind.")]),
            rewardsEndpoint("POST", "/api/v1/rewards", "createReward", "Rewards", .right("edit"), "Create a reward (pending approval)",
                            "新建权益（待审批）", request: create, status: 201, response: JSONSchema.ref("Reward"), idempotent: true),
            rewardsEndpoint("GET", "/api/v1/rewards/{id}", "getReward", "Rewards", .right("view"), "A reward with its remaining stock",
                            "查看权益及剩余库存", response: JSONSchema.ref("Reward")),
            rewardsEndpoint("POST", "/api/v1/rewards/{id}:approve", "approveReward", "Rewards", .right("publish"),
                            "Approve a reward (not by its author)", "审批权益（非创建人）", response: JSONSchema.ref("Reward")),
            rewardsEndpoint("POST", "/api/v1/rewards/{id}/grants", "grantReward", "Rewards", .right("edit"),
                            "Grant a reward to a customer, once per Idempotency-Key", "向客户发放权益（按幂等键只发一次）",
                            request: customer, status: 201, response: JSONSchema.ref("Grant"), idempotent: true),
            rewardsEndpoint("GET", "/api/v1/rewards/{id}/quotas", "listRewardQuotas", "Rewards", .right("view"),
                            "Quotas of a reward allotted to units, and the remainder", "权益的分行配额及剩余",
                            response: JSONSchema.object(["items": JSONSchema.array(JSONSchema.ref("RewardQuota"))], required: ["items"])),
            rewardsEndpoint("POST", "/api/v1/rewards/{id}/quotas", "allotRewardQuota", "Rewards", .right("edit"),
                            "Allot (or re-set) a unit's quota of a reward from the remainder", "向分行下发（或调整）权益配额",
                            request: JSONSchema.object([
                                "orgId": JSONSchema.string(minLength: 1, maxLength: 64),
                                "orgPath": JSONSchema.string(pattern: "^/.*/$", description: "The unit's path, such as /hq/sh/: below the reward's unit."),
                                "units": JSONSchema.integer(minimum: 0, maximum: 100_000_000),
                            ], required: ["orgId", "orgPath", "units"], description: "A unit's grants are then capped by its quota "
                               + "(409 quota_exhausted); 409 quota_exceeds_stock, quota_below_used."),
                            response: JSONSchema.object(["items": JSONSchema.array(JSONSchema.ref("RewardQuota"))], required: ["items"])),
            rewardsEndpoint("GET", "/api/v1/grants/{id}", "getGrant", "Rewards", .right("view"), "A grant", "查看发放记录",
                            response: JSONSchema.ref("Grant")),
            rewardsEndpoint("POST", "/api/v1/grants/{id}:redeem", "redeemGrant", "Rewards", .right("edit"),
                            "Redeem a grant once, within its validity (409 grant_redeemed, grant_expired, grant_revoked)",
                            "核销权益（有效期内仅一次）", response: JSONSchema.ref("Grant")),
            rewardsEndpoint("POST", "/api/v1/grants/{id}:revoke", "revokeGrant", "Rewards", .right("edit"),
                            "Revoke an unredeemed grant; its stock unit, budget, the customer's limit counts and its quota unit return, and the answer is the revoked grant",
                            "撤销未核销的权益，库存、预算、客户限领次数与配额退回",
                            request: JSONSchema.object(["reason": JSONSchema.string(maxLength: 500)]), response: JSONSchema.ref("Grant")),
            rewardsEndpoint("GET", "/api/v1/customers/{customerId}/rewards", "listCustomerRewards", "Rewards", .right("view"),
                            "A customer's rewards, newest first", "客户的权益列表",
                            response: JSONSchema.page(of: JSONSchema.ref("Grant")),
                            query: page + [PublicQueryParameter(name: "status", schema: JSONSchema.string(enumeration: grantStatuses), description: "Only this status.")]),
            rewardsEndpoint("GET", "/api/v1/points/{customerId}", "getPoints", "Points", .right("view"),
                            "A customer's points balance, open lots and ledger", "客户积分余额、积分批次与流水",
                            response: JSONSchema.ref("PointsAccount"), query: page),
            rewardsEndpoint("POST", "/api/v1/points/{customerId}:earn", "earnPoints", "Points", .right("edit"),
                            "Credit points as a lot with an expiry", "发放积分（按批次，带有效期）",
                            request: points, status: 201, response: JSONSchema.ref("PointsMove"), idempotent: true),
            rewardsEndpoint("POST", "/api/v1/points/{customerId}:spend", "spendPoints", "Points", .right("edit"),
                            "Spend points, oldest-expiring lots first; never below zero", "消费积分（先到期先用，余额不为负）",
                            request: points, status: 201, response: JSONSchema.ref("PointsMove"), idempotent: true),
            rewardsEndpoint("POST", "/api/v1/lotteries/{id}:draw", "drawLottery", "Rewards", .right("edit"),
                            "Draw a lottery for a customer (consolation when the drawn prize is gone)", "为客户抽奖（奖品抽完时得安慰奖）",
                            request: draw, status: 201, response: JSONSchema.ref("Grant"), idempotent: true),
        ]
    }
}
