import Contracts
import Foundation
import Postgres
import ServiceKit

/// Grants, redemptions, revocations and expiry: the money path.
///
/// A grant is one transaction: the customer's usage row (limits; its lock queues one customer's
/// concurrent grants), one unit of stock from a shard (the budget is pre-divided into units, so stock
/// bounds it), the grant row itself — whose unique `(reward_id, idempotency_key)` makes a duplicate key
/// fail the whole transaction, returning the unit it took — and the outbox facts. Nothing is
/// `ON CONFLICT DO NOTHING` after the stock moved (ENGINEERING-NOTES: that leaks stock).
struct GrantLedger: Sendable {
    let database: PostgresPool
    let facts: RewardFacts
    let points: PointsLedger
    /// The bank's time zone, for the per-day limit (`LATTICE_TIMEZONE`).
    let timeZone: String

    struct Outcome: Sendable {
        var grant: Grant
        var created: Bool
    }

    /// The prize a lottery draw picked inside the grant's transaction.
    struct Prize: Sendable {
        var id: String
        var name: String
        var cost: String
    }

    static let outOfStock = APIError.conflict("the reward is out of stock", code: "out_of_stock")
    static let budgetExhausted = APIError.conflict("the reward's budget is used up", code: "budget_exhausted")
    static let limitReached = APIError.conflict("the customer has reached this reward's limit", code: "limit_reached")
    static let notApproved = APIError.conflict("the reward is not approved yet", code: "not_approved")
    static let expired = APIError.conflict("the reward is outside its validity", code: "expired")
    static let keyConflict = APIError.conflict("this Idempotency-Key was used for a different grant request", code: "idempotency_conflict")
    static let quotaExhausted = APIError.conflict("the caller's unit has used up its quota of this reward", code: "quota_exhausted")

    /// Grants `reward` once per `key`: a replay of the key answers the first grant (`created` false); the
    /// same key with another request is 409 `idempotency_conflict`. `draw` (lotteries) runs inside the
    /// transaction after the stock was taken.
    func grant(reward: Reward, request: GrantRequest, key: String, caller: CallerIdentity,
               draw: ((PostgresConnection, String) throws -> Prize)? = nil) throws -> Outcome {
        // No look-up of the key first: a repeated key fails the grant INSERT (unique), or is refused for
        // stock or limits, and both paths answer the first grant below — the common case pays nothing.
        guard reward.status == .approved else {
            if let existing = try find(rewardId: reward.id, key: key) { return try replay(existing, request) }
            throw Self.notApproved
        }
        let now = Date()
        if let from = reward.validFrom, let until = reward.validUntil, !(from <= now && now < until) {
            if let existing = try find(rewardId: reward.id, key: key) { return try replay(existing, request) }
            throw Self.expired
        }
        let id = RecordId.timeOrdered("grt_")
        do {
            let grant = try database.transaction { conn -> Grant in
                let status = reward.kind == .points ? "redeemed" : "granted"
                let external: String? = reward.kind == .external ? "pending" : nil
                let grant: Grant
                if draw == nil {
                    // The whole grant in one statement (one round trip): the usage upsert (limits), a unit
                    // from a free shard, and the grant row fed by that unit, so nothing is inserted unless
                    // both passed. `counted` tells which one refused.
                    let rows = try conn.query("""
                        WITH quota AS (
                            SELECT org_path FROM reward_quotas WHERE reward_id = $2 AND starts_with($20, org_path)
                             ORDER BY length(org_path) DESC LIMIT 1),
                        q AS (
                            UPDATE reward_quotas SET used = used + 1
                             WHERE reward_id = $2 AND org_path = (SELECT org_path FROM quota) AND used < allotted RETURNING 1),
                        u AS (
                            INSERT INTO reward_usage AS u (reward_id, customer_id, total, day, day_count)
                            VALUES ($2, $3, 1, (now() AT TIME ZONE $15)::date, 1)
                            ON CONFLICT (reward_id, customer_id) DO UPDATE
                               SET total = u.total + 1,
                                   day_count = CASE WHEN u.day = EXCLUDED.day THEN u.day_count + 1 ELSE 1 END, day = EXCLUDED.day
                             WHERE ($16::int IS NULL OR u.total < $16) AND ($17::int IS NULL OR u.day <> EXCLUDED.day OR u.day_count < $17)
                             AND (NOT EXISTS (SELECT 1 FROM quota) OR EXISTS (SELECT 1 FROM q))
                            RETURNING 1),
                        s AS (
                            UPDATE reward_stock st SET remaining = st.remaining - 1
                              FROM (SELECT shard FROM reward_stock WHERE reward_id = $2 AND remaining > 0 AND EXISTS (SELECT 1 FROM u)
                                     ORDER BY (shard - $18 + $19) % $19 LIMIT 1 FOR UPDATE SKIP LOCKED) AS pick
                             WHERE st.reward_id = $2 AND st.shard = pick.shard
                            RETURNING st.shard),
                        g AS (
                            INSERT INTO grants (id, reward_id, customer_id, idempotency_key, fingerprint, status, cost, shard, valid_from, valid_until,
                                                canvas_id, node_id, external_status, granted_by, org_path)
                            SELECT $1, $2, $3, $4, $5, $6, $7::numeric, s.shard, now(), coalesce($8, now() + make_interval(days => $9::int)),
                                   $10, $11, $12, $13, $14
                              FROM s
                            RETURNING *)
                        SELECT (SELECT count(*) FROM u)::int AS counted,
                               (EXISTS (SELECT 1 FROM quota) AND NOT EXISTS (SELECT 1 FROM q)) AS over_quota, \(Grant.columns)
                          FROM (SELECT 1) AS one LEFT JOIN g ON true LEFT JOIN rewards r ON r.id = g.reward_id
                        """, id, reward.id, request.customerId, key, request.fingerprint, status, reward.unitCost, reward.validUntil,
                        reward.validityDays ?? 0, request.canvasId, request.nodeId, external, caller.userId, reward.orgPath,
                        timeZone, reward.perCustomerLimit, reward.perDayLimit, Int.random(in: 0..<max(1, reward.shards)), max(1, reward.shards),
                        caller.orgPath)
                    let row = rows[0]
                    if try row.decode("over_quota", as: Bool.self) { throw Self.quotaExhausted }
                    guard try row.decode("counted", as: Int.self) == 1 else { throw Self.limitReached }
                    if try row.decode("id", as: String?.self) != nil {
                        grant = try Grant(row: row)
                    } else {
                        // Every free shard was locked by a concurrent grant, or none has units: wait for one.
                        guard let shard = try StockShards.take(rewardId: reward.id, shards: reward.shards, on: conn, skipFastPath: true) else {
                            throw reward.grantable < reward.stock ? Self.budgetExhausted : Self.outOfStock
                        }
                        grant = try insert(id: id, reward: reward, request: request, key: key, status: status, shard: shard, prize: nil,
                                           external: external, caller: caller, on: conn)
                    }
                } else {
                    guard try takeQuota(reward: reward, caller: caller, on: conn) else { throw Self.quotaExhausted }
                    guard try countUsage(reward: reward, customerId: request.customerId, on: conn) else { throw Self.limitReached }
                    guard let shard = try StockShards.take(rewardId: reward.id, shards: reward.shards, on: conn) else {
                        throw reward.grantable < reward.stock ? Self.budgetExhausted : Self.outOfStock
                    }
                    let prize = try draw?(conn, id)
                    grant = try insert(id: id, reward: reward, request: request, key: key, status: status, shard: shard, prize: prize,
                                       external: external, caller: caller, on: conn)
                }
                var recorded: [(MarketingFactType, String, MarketingFact)] = [(reward.kind == .lottery ? .lotteryDrawn : .rewardGranted, grant.id, grant.fact())]
                if reward.kind == .points, let amount = reward.points {
                    // A points reward credits the ledger at once, expiring with the grant's validity.
                    let fact = try points.earn(on: conn, customerId: request.customerId, points: amount, expiresAt: grant.validUntil,
                                               key: "grant:" + grant.id, reason: "reward \(reward.code)", orgPath: reward.orgPath)
                    recorded.append(fact)
                }
                try facts.record(recorded, on: conn)
                return grant
            }
            return Outcome(grant: grant, created: true)
        } catch let error as PostgresError where error.isUniqueViolation {
            // A concurrent request with the same key committed first: our whole transaction (stock
            // included) rolled back; answer its grant.
            guard let existing = try find(rewardId: reward.id, key: key) else { throw error }
            return try replay(existing, request)
        } catch let error as APIError where error.status == 409 {
            // A refusal after a concurrent same-key grant took the customer's last allowance or the last
            // unit: that request's grant is this one's answer.
            if let existing = try find(rewardId: reward.id, key: key) { return try replay(existing, request) }
            throw error
        }
    }

    /// Takes one unit of the most specific quota covering the caller's unit; true when none applies.
    private func takeQuota(reward: Reward, caller: CallerIdentity, on conn: PostgresConnection) throws -> Bool {
        let rows = try conn.query("""
            WITH quota AS (SELECT org_path FROM reward_quotas WHERE reward_id = $1 AND starts_with($2, org_path)
                            ORDER BY length(org_path) DESC LIMIT 1),
                 q AS (UPDATE reward_quotas SET used = used + 1
                        WHERE reward_id = $1 AND org_path = (SELECT org_path FROM quota) AND used < allotted RETURNING 1)
            SELECT NOT EXISTS (SELECT 1 FROM quota) OR EXISTS (SELECT 1 FROM q) AS ok
            """, reward.id, caller.orgPath)
        return try rows[0].decode("ok")
    }

    /// Counts one grant against the customer's limits (and locks their usage row); false when a limit is reached.
    private func countUsage(reward: Reward, customerId: String, on conn: PostgresConnection) throws -> Bool {
        // A first grant with a limit of 1 inserts total 1; the upsert only refuses repeats.
        !(try conn.query("""
            INSERT INTO reward_usage AS u (reward_id, customer_id, total, day, day_count)
            VALUES ($1, $2, 1, (now() AT TIME ZONE $5)::date, 1)
            ON CONFLICT (reward_id, customer_id) DO UPDATE
               SET total = u.total + 1,
                   day_count = CASE WHEN u.day = EXCLUDED.day THEN u.day_count + 1 ELSE 1 END, day = EXCLUDED.day
             WHERE ($3::int IS NULL OR u.total < $3) AND ($4::int IS NULL OR u.day <> EXCLUDED.day OR u.day_count < $4)
            RETURNING u.total
            """, reward.id, customerId, reward.perCustomerLimit, reward.perDayLimit, timeZone).isEmpty)
    }

    private func insert(id: String, reward: Reward, request: GrantRequest, key: String, status: String, shard: Int, prize: Prize?,
                        external: String?, caller: CallerIdentity, on conn: PostgresConnection) throws -> Grant {
        let rows = try conn.query("""
            WITH g AS (
                INSERT INTO grants (id, reward_id, customer_id, idempotency_key, fingerprint, status, cost, shard, valid_from, valid_until,
                                    canvas_id, node_id, prize_id, prize_name, external_status, granted_by, org_path)
                VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, now(), coalesce($9, now() + make_interval(days => $10::int)), $11, $12, $13, $14,
                        $15, $16, $17)
                RETURNING *)
            SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
            """, id, reward.id, request.customerId, key, request.fingerprint, status, prize?.cost ?? reward.unitCost, shard, reward.validUntil,
            reward.validityDays ?? 0, request.canvasId, request.nodeId, prize?.id, prize?.name, external, caller.userId, reward.orgPath)
        return try Grant(row: rows[0])
    }

    private func replay(_ existing: Grant, _ request: GrantRequest) throws -> Outcome {
        guard existing.fingerprint == request.fingerprint else { throw Self.keyConflict }
        return Outcome(grant: existing, created: false)
    }

    func find(rewardId: String, key: String) throws -> Grant? {
        try database.query("""
            SELECT \(Grant.columns) FROM grants g JOIN rewards r ON r.id = g.reward_id WHERE g.reward_id = $1 AND g.idempotency_key = $2
            """, rewardId, key).first.map(Grant.init(row:))
    }

    static let grantNotFound = APIError.notFound("no such grant", code: "grant_not_found")

    func grant(id: String, caller: CallerIdentity) throws -> Grant {
        guard RecordId.isValid(id, prefix: "grt_") else { throw Self.grantNotFound }
        guard let row = try database.query("""
            SELECT \(Grant.columns) FROM grants g JOIN rewards r ON r.id = g.reward_id
             WHERE g.id = $1 AND (starts_with(g.org_path, $2) OR starts_with($2, g.org_path))
            """, id, caller.orgPath).first else { throw Self.grantNotFound }
        return try Grant(row: row)
    }

    /// 核销: once, within the validity, by a branch user or a system.
    func redeem(id: String, caller: CallerIdentity) throws -> Grant {
        let current = try grant(id: id, caller: caller)
        return try database.transaction { conn in
            let rows = try conn.query("""
                WITH g AS (
                    UPDATE grants SET status = 'redeemed', redeemed_at = now(), redeemed_by = $2, redeemed_org = $3
                     WHERE id = $1 AND status = 'granted' AND valid_from <= now() AND valid_until > now() RETURNING *)
                SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
                """, id, caller.userId, caller.orgPath)
            guard let row = rows.first else { throw Self.refusal(current, action: "redeemed") }
            let grant = try Grant(row: row)
            try facts.record(.rewardRedeemed, subject: grant.id, grant.fact(), on: conn)
            return grant
        }
    }

    /// Takes back a grant not yet redeemed; its unit goes back to the stock (and so to the budget).
    func revoke(id: String, reason: String?, caller: CallerIdentity) throws -> Grant {
        let current = try grant(id: id, caller: caller)
        return try database.transaction { conn in
            let rows = try conn.query("""
                WITH g AS (
                    UPDATE grants SET status = 'revoked', revoked_at = now(), revoked_by = $2, revoke_reason = $3
                     WHERE id = $1 AND status = 'granted' RETURNING *)
                SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
                """, id, caller.userId, reason)
            guard let row = rows.first else { throw Self.refusal(current, action: "revoked") }
            let grant = try Grant(row: row)
            try StockShards.giveBack(rewardId: grant.rewardId, shard: grant.shard, on: conn)
            try facts.record(.rewardRevoked, subject: grant.id, grant.fact(reason: reason), on: conn)
            return grant
        }
    }

    static func refusal(_ g: Grant, action: String) -> APIError {
        switch g.status {
        case "redeemed": return APIError.conflict("the grant was already redeemed", code: "grant_redeemed")
        case "revoked": return APIError.conflict("the grant was revoked", code: "grant_revoked")
        case "expired": return APIError.conflict("the grant has expired", code: "grant_expired")
        default:
            if g.validUntil <= Date() { return APIError.conflict("the grant has expired", code: "grant_expired") }
            if g.validFrom > Date() { return APIError.conflict("the grant is not valid yet", code: "grant_not_yet_valid") }
            return APIError.conflict("the grant changed meanwhile and cannot be \(action); read it again", code: "grant_changed")
        }
    }

    /// Marks up to `limit` grants past their validity as expired, with their facts, on `conn` (inside the
    /// scheduler's tick). Returns how many.
    func expireDue(on conn: PostgresConnection, limit: Int = 1_000) throws -> Int {
        let rows = try conn.query("""
            WITH g AS (
                UPDATE grants SET status = 'expired', expired_at = now()
                 WHERE id IN (SELECT id FROM grants WHERE status = 'granted' AND valid_until <= now()
                               ORDER BY valid_until LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING *)
            SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
            """, limit)
        let grants = try rows.map(Grant.init(row:))
        try facts.record(grants.map { (.rewardExpired, $0.id, $0.fact()) }, on: conn)
        return grants.count
    }

    /// A customer's grants visible to the caller, newest first.
    func customerGrants(customerId: String, status: String?, caller: CallerIdentity, page: PageRequest) throws -> Page<JSONValue> {
        let rows = try database.query("""
            SELECT \(Grant.columns) FROM grants g JOIN rewards r ON r.id = g.reward_id
             WHERE g.customer_id = $1 AND (starts_with(g.org_path, $2) OR starts_with($2, g.org_path))
               AND ($3::text IS NULL OR g.id < $3) AND ($5::text IS NULL OR g.status = $5)
             ORDER BY g.id DESC LIMIT $4
            """, customerId, caller.orgPath, page.after, page.limit + 1, status)
        let grants = try rows.map(Grant.init(row:))
        let p = PageRequest.page(grants, limit: page.limit, key: \.id)
        return Page(items: p.items.map(\.json), nextCursor: p.nextCursor)
    }
}
