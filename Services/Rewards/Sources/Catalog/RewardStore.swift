import Contracts
import Foundation
import Postgres
import ServiceKit

/// The reward catalog through the caller's org scope: a unit sees its subtree's rewards and those of its
/// ancestors (head office's rewards are used by branches), and changes only its subtree's.
public struct RewardStore: Sendable {
    let database: PostgresPool
    /// How many stock rows a new reward is split into (`LATTICE_REWARDS_STOCK_SHARDS`).
    let shardCount: Int
    let approved = ApprovedRewards()

    public init(database: PostgresPool, shardCount: Int) {
        self.database = database
        self.shardCount = max(1, shardCount)
    }

    /// The reward's terms for a grant or draw: from the cache of approved rewards when there, else read.
    func terms(id: String, caller: CallerIdentity) throws -> Reward {
        if let r = approved.get(id) {
            guard r.orgPath.hasPrefix(caller.orgPath) || caller.orgPath.hasPrefix(r.orgPath) else { throw Self.notFound }
            return r
        }
        let r = try reward(id: id, caller: caller)
        approved.put(r)
        return r
    }

    static let notFound = APIError.notFound("no such reward", code: "reward_not_found")
    static let visible = "(starts_with(r.org_path, $2) OR starts_with($2, r.org_path))"

    func create(_ input: RewardInput, caller: CallerIdentity) throws -> Reward {
        let id = RecordId.make("rwd_")
        return try database.transaction { conn in
            // Units the budget pays for: floor(budget / unit cost), computed by PostgreSQL in numeric.
            let grantable: Int
            if let budget = input.budget {
                let rows = try conn.query("""
                    SELECT CASE WHEN $2::numeric = 0 THEN $1::int ELSE least($1::numeric, floor($3::numeric / $2::numeric))::int END AS n
                    """, input.stock, input.unitCost, budget)
                grantable = try rows[0].decode("n")
            } else {
                grantable = input.stock
            }
            let shards = max(1, min(shardCount, grantable))
            do {
                try conn.execute("""
                    INSERT INTO rewards (id, code, name, description, kind, coupon_type, face_value, points, provider_url, stock, unit_cost, budget,
                                         grantable, per_customer_limit, per_day_limit, validity_days, valid_from, valid_until, lottery, shards,
                                         org_id, org_path, created_by)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11::numeric, $12::numeric, $13, $14, $15, $16, $17, $18, $19::jsonb,
                            $20, $21, $22, $23)
                    """, id, input.code, input.name, input.description, input.kind.rawValue, input.couponType?.rawValue, input.faceValue,
                    input.points, input.providerURL, input.stock, input.unitCost, input.budget, grantable, input.perCustomerLimit,
                    input.perDayLimit, input.validityDays, input.validFrom, input.validUntil,
                    try input.lottery.map { String(decoding: try JSONEncoder().encode($0.json), as: UTF8.self) }, shards,
                    caller.orgId, caller.orgPath, caller.userId)
            } catch let error as PostgresError where error.isUniqueViolation {
                throw APIError.conflict("a reward with code \(input.code) exists", code: "reward_code_taken")
            }
            try conn.execute("""
                INSERT INTO reward_stock (reward_id, shard, remaining)
                SELECT $1, s, $2 / $3 + CASE WHEN s < $2 % $3 THEN 1 ELSE 0 END FROM generate_series(0, $3 - 1) AS s
                """, id, grantable, shards)
            if let lottery = input.lottery {
                // Stock -1 in the array stands for none (the consolation prize): NULL in the table.
                let all = lottery.prizes + [lottery.consolation]
                try conn.execute("""
                    INSERT INTO lottery_prizes (lottery_id, prize_id, name, weight, stock, remaining, unit_cost, consolation, position)
                    SELECT $1, p.id, p.name, p.weight, nullif(p.stock, -1), nullif(p.stock, -1), p.cost::numeric, p.position = $8, p.position
                    FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::int[]) AS p(id, name, weight, stock, cost, position)
                    """, id, all.map(\.id), all.map(\.name), all.map(\.weight), all.map { $0.stock ?? -1 },
                    all.map(\.unitCost), Array(0..<all.count), all.count - 1)
                if !lottery.designated.isEmpty {
                    try conn.execute("""
                        INSERT INTO lottery_designations (lottery_id, customer_id, prize_id)
                        SELECT $1, d.c, d.p FROM unnest($2::text[], $3::text[]) AS d(c, p)
                        """, id, lottery.designated.map(\.customerId), lottery.designated.map(\.prizeId))
                }
            }
            let rows = try conn.query("SELECT \(Reward.columns) FROM rewards r WHERE r.id = $1", id)
            return try Reward(row: rows[0])
        }
    }

    func reward(id: String, caller: CallerIdentity) throws -> Reward {
        guard RecordId.isValid(id, prefix: "rwd_") else { throw Self.notFound }
        guard let row = try database.query("SELECT \(Reward.columns) FROM rewards r WHERE r.id = $1 AND \(Self.visible)", id, caller.orgPath).first
        else { throw Self.notFound }
        return try Reward(row: row)
    }

    func rewards(caller: CallerIdentity, kind: RewardKind?, page: PageRequest) throws -> Page<JSONValue> {
        let rows = try database.query("""
            SELECT \(Reward.columns) FROM rewards r
             WHERE \(Self.visible) AND ($1::text IS NULL OR r.id > $1) AND ($4::text IS NULL OR r.kind = $4) ORDER BY r.id LIMIT $3
            """, page.after, caller.orgPath, page.limit + 1, kind?.rawValue)
        let rewards = try rows.map { try Reward(row: $0) }
        let p = PageRequest.page(rewards, limit: page.limit, key: \.id)
        return Page(items: p.items.map(\.json), nextCursor: p.nextCursor)
    }

    /// Approval by someone other than its author (four eyes), in the reward's subtree, as for templates.
    func approve(id: String, caller: CallerIdentity) throws -> Reward {
        let current = try reward(id: id, caller: caller)
        guard caller.covers(orgPath: current.orgPath) else { throw APIError.forbidden("the reward belongs to a unit above yours") }
        guard current.createdBy != caller.userId else {
            throw APIError.unprocessable("a reward is approved by someone other than its author", code: "reward_self_approval")
        }
        guard current.status == .pending else { return current }
        try database.execute("""
            UPDATE rewards SET status = 'approved', approved_by = $2, approved_at = now(), updated_at = now() WHERE id = $1 AND status = 'pending'
            """, id, caller.userId)
        return try reward(id: id, caller: caller)
    }

    /// 配额下发: head office (the reward's own unit or above) reserves `units` of the reward for a unit below
    /// it, taken from the remainder; setting a unit's quota again replaces it (not below what it used).
    func allot(id: String, orgId: String, orgPath: String, units: Int, caller: CallerIdentity) throws -> JSONValue {
        let reward = try reward(id: id, caller: caller)
        guard caller.covers(orgPath: reward.orgPath) else { throw APIError.forbidden("only the reward's own unit or above allots quotas") }
        guard orgPath.hasPrefix(reward.orgPath), orgPath != reward.orgPath else {
            throw APIError.badRequest("orgPath must be a unit below the reward's own (\(reward.orgPath))", field: "orgPath")
        }
        try database.transaction { conn in
            // The remainder row (the reward's own unit) holds everything not allotted; what was granted before
            // the first allotment counts as its use, so that no branch is allotted units that are gone.
            try conn.execute("""
                INSERT INTO reward_quotas (reward_id, org_path, org_id, allotted, used)
                SELECT $1, $2, $3, $4, (SELECT count(*) FROM grants WHERE reward_id = $1 AND status <> 'revoked')
                ON CONFLICT DO NOTHING
                """, id, reward.orgPath, reward.orgId, reward.grantable)
            let current = try conn.query("SELECT allotted, used FROM reward_quotas WHERE reward_id = $1 AND org_path = $2 FOR UPDATE",
                                         id, orgPath).first
            let before: Int = try current?.decode("allotted") ?? 0
            let used: Int = try current?.decode("used") ?? 0
            guard units >= used else {
                throw APIError.conflict("the unit has already used \(used) of its quota", code: "quota_below_used")
            }
            let moved = try conn.execute("""
                UPDATE reward_quotas SET allotted = allotted - $3 WHERE reward_id = $1 AND org_path = $2 AND allotted - $3 >= used
                """, id, reward.orgPath, units - before)
            guard moved == 1 else { throw APIError.conflict("the reward has not that many units left to allot", code: "quota_exceeds_stock") }
            try conn.execute("""
                INSERT INTO reward_quotas (reward_id, org_path, org_id, allotted) VALUES ($1, $2, $3, $4)
                ON CONFLICT (reward_id, org_path) DO UPDATE SET allotted = EXCLUDED.allotted, org_id = EXCLUDED.org_id
                """, id, orgPath, orgId, units)
        }
        return try quotas(id: id, caller: caller)
    }

    func quotas(id: String, caller: CallerIdentity) throws -> JSONValue {
        let reward = try reward(id: id, caller: caller)
        let rows = try database.query("SELECT org_path, org_id, allotted, used FROM reward_quotas WHERE reward_id = $1 ORDER BY org_path", reward.id)
        return .object(["items": .array(try rows.map { r in
            let path: String = try r.decode("org_path")
            return .object(["orgId": .string(try r.decode("org_id")), "orgPath": .string(path), "remainder": .bool(path == reward.orgPath),
                            "allotted": .number(Double(try r.decode("allotted", as: Int.self))), "used": .number(Double(try r.decode("used", as: Int.self)))])
        })])
    }
}
