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
///
/// The common grant (a reward without quotas, neither points nor a lottery) is all of that in a single
/// autocommit statement, one round trip (`grantInOneStatement`); the others run it as a transaction.
/// Both take their locks in one order — quota row, usage row, stock shard — as revocations do.
struct GrantLedger: Sendable {
    let database: PostgresPool
    let facts: RewardFacts
    let points: PointsLedger
    /// The bank's time zone, for the per-day limit (`LATTICE_TIMEZONE`).
    let timeZone: String
    /// Concurrent common grants of one reward, granted together (`GrantBatch`); nil grants one at a time.
    let batches: GroupCommit<GrantBatch.Item, GrantBatch.Outcome>?

    /// - Parameter batchSize: the most common grants of one reward granted in one statement
    ///   (`LATTICE_REWARDS_GRANT_BATCH`); 1 grants each on its own. `logger` hears of failed batches.
    init(database: PostgresPool, facts: RewardFacts, points: PointsLedger, timeZone: String, batchSize: Int, logger: Logger) {
        self.database = database
        self.facts = facts
        self.points = points
        self.timeZone = timeZone
        if batchSize > 1 {
            let batch = GrantBatch(database: database, facts: facts, timeZone: timeZone, logger: logger)
            // Two batches of a reward at once: one is built and locks its shards while the other commits.
            batches = GroupCommit(maxBatch: batchSize, maxLeaders: 2, keys: GrantBatch.keys(of:)) { batch.grant($0) }
        } else {
            batches = nil
        }
    }

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
            // Points rewards credit the ledger and draws pick a prize: both need a transaction. Every other
            // grant first tries the one-statement path, which leaves nothing behind when it cannot finish.
            if draw == nil, reward.kind != .points {
                if let batches {
                    let item = GrantBatch.Item(id: id, reward: reward, request: request, key: key, caller: caller)
                    switch batches.submit(item, group: GrantBatch.group(of: item)) {
                    case .granted(let grant): return Outcome(grant: grant, created: true)
                    case .limitReached: throw Self.limitReached
                    case .replay:
                        if let existing = try find(rewardId: reward.id, key: key) { return try replay(existing, request) }
                    case .alone: break
                    }
                }
                switch try grantInOneStatement(id: id, reward: reward, request: request, key: key, caller: caller) {
                case .granted(let grant): return Outcome(grant: grant, created: true)
                case .limitReached: throw Self.limitReached
                case .noUnitLeft: throw reward.grantable < reward.stock ? Self.budgetExhausted : Self.outOfStock
                case .needsTransaction: break
                }
            }
            let grant = try database.transaction { conn -> Grant in
                let status = reward.kind == .points ? "redeemed" : "granted"
                let external: String? = reward.kind == .external ? "pending" : nil
                // Locks in one order on every path — quota row, usage row, stock shard (revocations too) —
                // so that no two grants or revocations can wait on each other.
                let quota = try takeQuota(reward: reward, caller: caller, on: conn)
                guard quota.allowed else { throw Self.quotaExhausted }
                guard try countUsage(reward: reward, customerId: request.customerId, on: conn) else { throw Self.limitReached }
                guard let shard = try StockShards.take(rewardId: reward.id, shards: reward.shards, on: conn) else {
                    throw reward.grantable < reward.stock ? Self.budgetExhausted : Self.outOfStock
                }
                let prize = try draw?(conn, id)
                let grant = try insert(id: id, reward: reward, request: request, key: key, status: status, shard: shard, prize: prize,
                                       external: external, quotaPath: quota.path, caller: caller, on: conn)
                var recorded: [(MarketingFactType, String, MarketingFact)] = [(reward.kind == .lottery ? .lotteryDrawn : .rewardGranted, grant.id, grant.fact())]
                if reward.kind == .points, let amount = reward.points {
                    // A points reward credits the ledger at once, expiring with the grant's validity.
                    let fact = try points.earn(on: conn, customerId: request.customerId, points: amount, expiry: .at(grant.validUntil),
                                               key: "grant:" + grant.id, reason: "reward \(reward.code)", orgPath: reward.orgPath)
                    recorded.append(fact)
                }
                try facts.record(recorded, on: conn)
                return grant
            }
            return Outcome(grant: grant, created: true)
        } catch let error as PostgresError where error.isUniqueViolation {
            // A concurrent request with the same key committed first: our whole statement or transaction
            // (stock included) rolled back; answer its grant.
            guard let existing = try find(rewardId: reward.id, key: key) else { throw error }
            return try replay(existing, request)
        } catch let error as APIError where error.status == 409 {
            // A refusal after a concurrent same-key grant took the customer's last allowance or the last
            // unit: that request's grant is this one's answer.
            if let existing = try find(rewardId: reward.id, key: key) { return try replay(existing, request) }
            throw error
        }
    }

    enum OneStatement {
        case granted(Grant)
        case limitReached
        /// No shard has a unit left (stock or budget used up).
        case noUnitLeft
        /// Nothing was written: the reward has quotas, which the transaction path takes.
        case needsTransaction
    }

    /// The common grant as one autocommit statement, one round trip: the customer's usage row is locked
    /// first (the lock order of every path: one customer's concurrent grants queue there, not on a shard
    /// they hold), then a stock shard with units is picked and locked — one no other grant holds (`SKIP
    /// LOCKED`, from a random start), or when all are held, the first to be released — the customer's
    /// usage counted against the limits, the unit taken, the grant row and its outbox facts written (and
    /// the relay notified when `LATTICE_REWARDS_OUTBOX_NOTIFY` is on). Each step runs only when the one before passed, so a refusal
    /// writes nothing, and a duplicate key (the grant row's unique index) fails the whole statement, stock
    /// included. The shard's row lock lasts this statement and its commit only (no round trips of a
    /// transaction in between), which is what bounds a hot reward's rate: shards × 1 / (statement + commit).
    private func grantInOneStatement(id: String, reward: Reward, request: GrantRequest, key: String,
                                     caller: CallerIdentity) throws -> OneStatement {
        let external: String? = reward.kind == .external ? "pending" : nil
        let fact = MarketingFact(customerId: request.customerId, orgPath: reward.orgPath, canvasId: request.canvasId, nodeId: request.nodeId,
                                 rewardId: reward.id, rewardKind: reward.kind.rawValue, grantId: id, cost: reward.unitCost)
        let outbox = try facts.event(.rewardGranted, subject: id, fact)
        let shards = max(1, reward.shards)
        let rows = try database.query("""
            WITH quota AS (
                SELECT 1 FROM reward_quotas WHERE reward_id = $2 LIMIT 1),
            usage_lock AS (
                SELECT 1 FROM reward_usage WHERE reward_id = $2 AND customer_id = $3 AND NOT EXISTS (SELECT 1 FROM quota) FOR UPDATE),
            free AS (
                -- The usage row is locked before any shard: `free` reads `usage_lock` first.
                SELECT shard FROM reward_stock
                 WHERE reward_id = $2 AND remaining > 0 AND NOT EXISTS (SELECT 1 FROM quota) AND (SELECT count(*) FROM usage_lock) >= 0
                 ORDER BY (shard - $16 + $17) % $17 LIMIT 1 FOR UPDATE SKIP LOCKED),
            busy AS (
                -- Only when every shard with units is held: wait for one; READ COMMITTED re-checks
                -- `remaining > 0` on the row as its holder left it and moves on to the next when it is empty.
                -- A row that fails the re-check stays locked until commit, so waiters go in shard order:
                -- each holds only shards below the one it waits for, and no two can wait on each other
                -- (a random start here deadlocked grants racing for the last units).
                SELECT shard FROM reward_stock
                 WHERE reward_id = $2 AND remaining > 0 AND NOT EXISTS (SELECT 1 FROM quota) AND NOT EXISTS (SELECT 1 FROM free)
                 ORDER BY shard LIMIT 1 FOR UPDATE),
            pick AS (
                SELECT shard FROM free UNION ALL SELECT shard FROM busy),
            u AS (
                INSERT INTO reward_usage AS u (reward_id, customer_id, total, day, day_count)
                SELECT $2, $3, 1, (now() AT TIME ZONE $13)::date, 1 WHERE EXISTS (SELECT 1 FROM pick)
                ON CONFLICT (reward_id, customer_id) DO UPDATE
                   SET total = u.total + 1,
                       day_count = CASE WHEN u.day = EXCLUDED.day THEN u.day_count + 1 ELSE 1 END, day = EXCLUDED.day
                 WHERE ($14::int IS NULL OR u.total < $14) AND ($15::int IS NULL OR u.day <> EXCLUDED.day OR u.day_count < $15)
                RETURNING 1),
            s AS (
                UPDATE reward_stock st SET remaining = st.remaining - 1 FROM pick
                 WHERE st.reward_id = $2 AND st.shard = pick.shard AND EXISTS (SELECT 1 FROM u)
                RETURNING st.shard),
            g AS (
                INSERT INTO grants (id, reward_id, customer_id, idempotency_key, fingerprint, status, cost, shard, valid_from, valid_until,
                                    canvas_id, node_id, external_status, granted_by, org_path)
                SELECT $1, $2, $3, $4, $5, 'granted', $6::numeric, s.shard, now(), coalesce($7, now() + make_interval(days => $8::int)),
                       $9, $10, $11, $12, $18
                  FROM s
                RETURNING *),
            o AS (
                INSERT INTO outbox_events (event_id, event_type, destination, payload, occurred_at)
                SELECT $19::uuid, $20::text, d.destination, $21::jsonb, $22::timestamptz FROM unnest($23::text[]) AS d(destination)
                 WHERE EXISTS (SELECT 1 FROM g)
                ON CONFLICT ON CONSTRAINT outbox_events_event_destination_key DO NOTHING
                RETURNING 1)
            SELECT EXISTS (SELECT 1 FROM quota) AS has_quota, EXISTS (SELECT 1 FROM pick) AS picked,
                   CASE WHEN $24::text IS NOT NULL AND EXISTS (SELECT 1 FROM g) THEN pg_notify($24, '') IS NULL END AS notified, \(Grant.columns)
              FROM (SELECT 1) AS one LEFT JOIN g ON true LEFT JOIN rewards r ON r.id = g.reward_id
            """, id, reward.id, request.customerId, key, request.fingerprint, reward.unitCost, reward.validUntil, reward.validityDays ?? 0,
            request.canvasId, request.nodeId, external, caller.userId, timeZone, reward.perCustomerLimit, reward.perDayLimit,
            Int.random(in: 0..<shards), shards, reward.orgPath,
            outbox?.event.id, outbox?.event.type, outbox?.event.payloadJSON, outbox?.event.occurredAt, outbox?.destinations ?? [],
            facts.notificationChannel)
        let row = rows[0]
        if try row.decode("id", as: String?.self) != nil { return .granted(try Grant(row: row)) }
        if try row.decode("has_quota", as: Bool.self) { return .needsTransaction }
        return try row.decode("picked", as: Bool.self) ? .limitReached : .noUnitLeft
    }

    /// Takes one unit of the most specific quota covering the caller's unit: allowed when none applies
    /// (path nil) or one was taken (its path, recorded on the grant so that a revocation returns it).
    private func takeQuota(reward: Reward, caller: CallerIdentity, on conn: PostgresConnection) throws -> (allowed: Bool, path: String?) {
        let rows = try conn.query("""
            -- The caller's own unit's quota or its nearest parent's; a caller above the reward's unit draws on
            -- the remainder (the reward's unit's row), as head office does.
            WITH quota AS (SELECT org_path FROM reward_quotas WHERE reward_id = $1 AND (starts_with($2, org_path) OR org_path = $3)
                            ORDER BY starts_with($2, org_path) DESC, length(org_path) DESC LIMIT 1),
                 q AS (UPDATE reward_quotas SET used = used + 1
                        WHERE reward_id = $1 AND org_path = (SELECT org_path FROM quota) AND used < allotted RETURNING org_path)
            SELECT NOT EXISTS (SELECT 1 FROM quota) OR EXISTS (SELECT 1 FROM q) AS ok, (SELECT org_path FROM q) AS path
            """, reward.id, caller.orgPath, reward.orgPath)
        return (try rows[0].decode("ok"), try rows[0].decode("path"))
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
                        external: String?, quotaPath: String?, caller: CallerIdentity, on conn: PostgresConnection) throws -> Grant {
        let rows = try conn.query("""
            WITH g AS (
                INSERT INTO grants (id, reward_id, customer_id, idempotency_key, fingerprint, status, cost, shard, valid_from, valid_until,
                                    canvas_id, node_id, prize_id, prize_name, external_status, granted_by, org_path, quota_path)
                VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, now(), coalesce($9, now() + make_interval(days => $10::int)), $11, $12, $13, $14,
                        $15, $16, $17, $18)
                RETURNING *)
            SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
            """, id, reward.id, request.customerId, key, request.fingerprint, status, prize?.cost ?? reward.unitCost, shard, reward.validUntil,
            reward.validityDays ?? 0, request.canvasId, request.nodeId, prize?.id, prize?.name, external, caller.userId, reward.orgPath, quotaPath)
        return try Grant(row: rows[0])
    }

    private func replay(_ existing: Grant, _ request: GrantRequest) throws -> Outcome {
        guard existing.fingerprint == request.fingerprint else { throw Self.keyConflict }
        // The provider refused the benefit for good: the key's answer stays that refusal.
        if existing.externalStatus == "failed" { throw Self.externalRefused(existing) }
        return Outcome(grant: existing, created: false)
    }

    /// 422 `external_refused`: the provider will not issue this external benefit; nothing is held for it.
    static func externalRefused(_ grant: Grant) -> APIError {
        APIError.unprocessable("the provider refused the external benefit: \(grant.externalError ?? "no reason given"); "
                               + "its stock unit and budget were returned", code: "external_refused",
                               details: .object(["grantId": .string(grant.id), "field": .string("rewardId")]))
    }

    func find(rewardId: String, key: String) throws -> Grant? {
        try database.query("""
            SELECT \(Grant.columns) FROM grants g JOIN rewards r ON r.id = g.reward_id WHERE g.reward_id = $1 AND g.idempotency_key = $2
            """, rewardId, key).first.map(Grant.init(row:))
    }

    static let grantNotFound = APIError.notFound("no such grant", code: "grant_not_found")

    /// A grant by id, whoever's it is (the service's own jobs).
    func find(id: String) throws -> Grant? {
        try database.query("SELECT \(Grant.columns) FROM grants g JOIN rewards r ON r.id = g.reward_id WHERE g.id = $1", id)
            .first.map(Grant.init(row:))
    }

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

    /// Takes back a grant not yet redeemed and gives back all it used, so that it can be granted again:
    /// its stock unit (and with it its share of the budget), the customer's counts against the limits, its
    /// quota unit and a lottery's prize. Answers the grant as it is now (`revoked`).
    func revoke(id: String, reason: String?, caller: CallerIdentity) throws -> Grant {
        let current = try grant(id: id, caller: caller)
        return try database.transaction { conn in
            let rows = try conn.query("""
                WITH g AS (
                    UPDATE grants SET status = 'revoked', revoked_at = now(), revoked_by = $2, revoke_reason = $3,
                                      \(Self.cancelPendingFetch)
                     WHERE id = $1 AND status = 'granted' RETURNING *)
                SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
                """, id, caller.userId, reason)
            guard let row = rows.first else { throw Self.refusal(current, action: "revoked") }
            let grant = try Grant(row: row)
            try release(grant, on: conn)
            try facts.record(.rewardRevoked, subject: grant.id, grant.fact(reason: reason), on: conn)
            return grant
        }
    }

    /// SET items that stop the provider being asked for an external grant that is revoked or expired.
    static let cancelPendingFetch = """
        external_status = CASE WHEN external_status = 'pending' THEN 'cancelled' ELSE external_status END,
        external_next_at = CASE WHEN external_status = 'pending' THEN NULL ELSE external_next_at END
        """

    /// A provider's final refusal of an external grant still `pending`: the grant is revoked with the
    /// reason, and what it used is given back, in one transaction. Nil when it is no longer pending (a
    /// concurrent fetch settled it).
    func failExternal(id: String, reason: String) throws -> Grant? {
        try database.transaction { conn in
            let rows = try conn.query("""
                WITH g AS (
                    UPDATE grants SET status = 'revoked', revoked_at = now(), revoked_by = 'system:rewards', revoke_reason = $2,
                                      external_status = 'failed', external_error = $2, external_next_at = NULL
                     WHERE id = $1 AND status = 'granted' AND external_status = 'pending' RETURNING *)
                SELECT \(Grant.columns) FROM g JOIN rewards r ON r.id = g.reward_id
                """, id, reason)
            guard let row = rows.first else { return nil }
            let grant = try Grant(row: row)
            try release(grant, on: conn)
            try facts.record(.rewardRevoked, subject: grant.id, grant.fact(reason: reason), on: conn)
            return grant
        }
    }

    /// Gives back what `grant` used, in the transaction that revoked it: the stock unit (the budget is
    /// counted in units), one from the customer's total — and from today's count when it was granted on
    /// the usage row's day, in the bank's time zone — the quota unit it counted against, and its prize (and
    /// the prize's share of a lottery's budget).
    private func release(_ grant: Grant, on conn: PostgresConnection) throws {
        // The grant path's lock order: quota row, usage row, stock shard, prize.
        if let quota = grant.quotaPath {
            try conn.execute("UPDATE reward_quotas SET used = used - 1 WHERE reward_id = $1 AND org_path = $2 AND used > 0",
                             grant.rewardId, quota)
        }
        try conn.execute("""
            UPDATE reward_usage SET total = greatest(total - 1, 0),
                   day_count = CASE WHEN day = ($3::timestamptz AT TIME ZONE $4)::date THEN greatest(day_count - 1, 0) ELSE day_count END
             WHERE reward_id = $1 AND customer_id = $2
            """, grant.rewardId, grant.customerId, grant.grantedAt, timeZone)
        try StockShards.giveBack(rewardId: grant.rewardId, shard: grant.shard, on: conn)
        if let prize = grant.prizeId {
            // A lottery with a budget counts what its prizes spent (LotteryDraw); the row before the prize, as a draw locks them.
            try conn.execute("""
                UPDATE rewards SET prize_spent = greatest(prize_spent - $2::numeric, 0) WHERE id = $1 AND budget IS NOT NULL AND $2::numeric > 0
                """, grant.rewardId, grant.cost)
            // The consolation prize has no stock (NULL), and a prize is never refilled past its stock.
            try conn.execute("""
                UPDATE lottery_prizes SET remaining = remaining + 1 WHERE lottery_id = $1 AND prize_id = $2 AND remaining < stock
                """, grant.rewardId, prize)
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
                UPDATE grants SET status = 'expired', expired_at = now(), \(Self.cancelPendingFetch)
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
