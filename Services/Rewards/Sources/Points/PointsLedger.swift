import Contracts
import Foundation
import Postgres
import ServiceKit

/// 积分: an append-only ledger of entries over lots. An earn opens a lot with an expiry; a spend takes
/// from the lots that expire first; the expiry tick closes what is left of expired lots. Every change
/// first locks the customer's account row, so one customer's concurrent earns and spends run one after
/// another and the balance (the ledger's sum, `CHECK (balance >= 0)`) can never go negative.
///
/// Org scope: every lot and operation records the unit that issued it (`org_path`). A caller reads and
/// moves only the points of lots it can see — its own subtree's and its ancestors' — so another branch's
/// points are neither shown (the balance, lots and ledger a caller gets leave them out) nor spent, and
/// another branch's Idempotency-Key answers 409 without its data. Head office sees all.
struct PointsLedger: Sendable {
    let database: PostgresPool
    let facts: RewardFacts

    static let insufficient = APIError.conflict("the customer has fewer points than that", code: "insufficient_points")
    static let keyConflict = APIError.conflict("this Idempotency-Key was used for a different points request", code: "idempotency_conflict")

    /// Lots and operations (`org_path`) the caller whose path is `$scope` sees: its subtree's and its
    /// ancestors'. `scope` is a placeholder such as `$2`.
    static func visible(_ column: String = "org_path", scope: String) -> String {
        "(starts_with(\(column), \(scope)) OR starts_with(\(scope), \(column)))"
    }

    struct Operation: Sendable {
        var id: String
        var kind: String
        var points: Int
        var reason: String?
        var fingerprint: String
        /// The unit that issued it.
        var orgPath: String
        var createdAt: Date

        static let columns = "id, kind, points, reason, fingerprint, org_path, created_at"

        init(row: PostgresRow) throws {
            id = try row.decode("id"); kind = try row.decode("kind"); points = try row.decode("points")
            reason = try row.decode("reason"); fingerprint = try row.decode("fingerprint"); orgPath = try row.decode("org_path")
            createdAt = try row.decode("created_at")
        }

        var json: JSONValue {
            .object(["id": .string(id), "kind": .string(kind), "points": .number(Double(points)), "reason": reason.map(JSONValue.string) ?? .null,
                     "createdAt": .string(RFC3339.string(createdAt))])
        }
    }

    struct Outcome: Sendable {
        var operation: Operation
        var balance: Int
        var created: Bool
        var json: JSONValue { .object(["operation": operation.json, "balance": .number(Double(balance))]) }
    }

    /// Locks (creating when new) the customer's account row; its balance.
    private func lockAccount(_ customerId: String, on conn: PostgresConnection) throws -> Int {
        let rows = try conn.query("""
            INSERT INTO points_accounts AS a (customer_id, balance) VALUES ($1, 0)
            ON CONFLICT (customer_id) DO UPDATE SET updated_at = a.updated_at RETURNING a.balance
            """, customerId)
        return Int(try rows[0].decode("balance", as: Int64.self))
    }

    /// The operation already made with `key`, for a replay. Another unit's operation is a conflict, told
    /// without its data.
    private func existing(_ customerId: String, key: String, fingerprint: String, scope: String, on conn: PostgresConnection) throws -> Operation? {
        guard let row = try conn.query("""
            SELECT \(Operation.columns) FROM points_operations WHERE customer_id = $1 AND idempotency_key = $2
            """, customerId, key).first else { return nil }
        let op = try Operation(row: row)
        guard op.fingerprint == fingerprint, op.orgPath.hasPrefix(scope) || scope.hasPrefix(op.orgPath) else { throw Self.keyConflict }
        return op
    }

    /// The points of unexpired lots the caller (`scope`) sees.
    /// The points of `customerId` the caller may see: lots issued by its unit, a unit above it or one below.
    func balance(customerId: String, caller: CallerIdentity) throws -> Int {
        try database.withConnection { conn in try visibleBalance(customerId, scope: caller.orgPath, on: conn) }
    }

    private func visibleBalance(_ customerId: String, scope: String, on conn: PostgresConnection) throws -> Int {
        Int(try conn.query("""
            SELECT coalesce(sum(remaining), 0)::bigint AS b FROM points_lots
             WHERE customer_id = $1 AND remaining > 0 AND expires_at > now() AND \(Self.visible(scope: "$2"))
            """, customerId, scope)[0].decode("b", as: Int64.self))
    }

    private func insertOperation(_ customerId: String, key: String, fingerprint: String, kind: String, points: Int, reason: String?,
                                 orgPath: String, on conn: PostgresConnection) throws -> Operation {
        let rows = try conn.query("""
            INSERT INTO points_operations (id, customer_id, idempotency_key, fingerprint, kind, points, reason, org_path)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING \(Operation.columns)
            """, RecordId.timeOrdered("pop_"), customerId, key, fingerprint, kind, points, reason, orgPath)
        return try Operation(row: rows[0])
    }

    /// Credits `points` in the caller's transaction as a lot of `orgPath` (a points reward's unit);
    /// returns the fact to record (the caller records it with its own). A repeated `key` changes nothing.
    func earn(on conn: PostgresConnection, customerId: String, points: Int, expiry: PointsExpiry, key: String, reason: String?,
              orgPath: String) throws -> (MarketingFactType, String, MarketingFact) {
        let outcome = try earnLocked(on: conn, customerId: customerId, points: points, expiry: expiry, key: key, reason: reason,
                                     orgPath: orgPath)
        return (.pointsEarned, outcome.operation.id, MarketingFact(customerId: customerId, orgPath: orgPath, reason: reason, points: points))
    }

    /// The lot and the operation belong to `orgPath`, the issuing unit; the answer's balance is what that
    /// unit sees.
    private func earnLocked(on conn: PostgresConnection, customerId: String, points: Int, expiry: PointsExpiry, key: String,
                            reason: String?, orgPath: String) throws -> Outcome {
        _ = try lockAccount(customerId, on: conn)
        let fingerprint = "earn|\(points)|\(expiry.fingerprint)|\(reason ?? "")"
        let expiresAt = expiry.date(earnedAt: Date())
        if let op = try existing(customerId, key: key, fingerprint: fingerprint, scope: orgPath, on: conn) {
            return Outcome(operation: op, balance: try visibleBalance(customerId, scope: orgPath, on: conn), created: false)
        }
        let op = try insertOperation(customerId, key: key, fingerprint: fingerprint, kind: "earn", points: points, reason: reason,
                                     orgPath: orgPath, on: conn)
        try conn.execute("""
            WITH lot AS (INSERT INTO points_lots (customer_id, earned, remaining, expires_at, org_path) VALUES ($1, $2, $2, $3, $5) RETURNING id)
            INSERT INTO points_entries (customer_id, operation_id, lot_id, kind, points) SELECT $1, $4, lot.id, 'earn', $2 FROM lot
            """, customerId, points, expiresAt, op.id, orgPath)
        try conn.execute("UPDATE points_accounts SET balance = balance + $2, updated_at = now() WHERE customer_id = $1", customerId, points)
        return Outcome(operation: op, balance: try visibleBalance(customerId, scope: orgPath, on: conn), created: true)
    }

    /// `POST /api/v1/points/{customerId}:earn`: a lot of the caller's unit.
    func earn(customerId: String, points: Int, expiry: PointsExpiry, key: String, reason: String?, caller: CallerIdentity) throws -> Outcome {
        try database.transaction { conn in
            let outcome = try earnLocked(on: conn, customerId: customerId, points: points, expiry: expiry, key: key, reason: reason,
                                         orgPath: caller.orgPath)
            if outcome.created {
                try facts.record(.pointsEarned, subject: outcome.operation.id,
                                 MarketingFact(customerId: customerId, orgPath: caller.orgPath, reason: reason, points: points), on: conn)
            }
            return outcome
        }
    }

    /// Debits `points` from the lots the caller (`scope`, its org path) sees that expire first, in the
    /// caller's transaction (a lottery draw that costs points uses this inside its grant); `orgPath` is the
    /// unit the operation and its fact belong to. 409 `insufficient_points` when those lots hold less.
    func spend(on conn: PostgresConnection, customerId: String, points: Int, key: String, reason: String?, orgPath: String,
               scope: String) throws -> Outcome {
        _ = try lockAccount(customerId, on: conn)
        let fingerprint = "spend|\(points)|\(reason ?? "")"
        if let op = try existing(customerId, key: key, fingerprint: fingerprint, scope: scope, on: conn) {
            return Outcome(operation: op, balance: try visibleBalance(customerId, scope: scope, on: conn), created: false)
        }
        let lots = try conn.query("""
            SELECT id, remaining FROM points_lots
             WHERE customer_id = $1 AND remaining > 0 AND expires_at > now() AND \(Self.visible(scope: "$2")) ORDER BY expires_at, id
            """, customerId, scope)
        var needed = points
        var takes: [(Int64, Int)] = []
        for row in lots where needed > 0 {
            let remaining: Int = try row.decode("remaining")
            let take = min(remaining, needed)
            takes.append((try row.decode("id"), take))
            needed -= take
        }
        guard needed == 0 else { throw Self.insufficient }
        let op = try insertOperation(customerId, key: key, fingerprint: fingerprint, kind: "spend", points: points, reason: reason,
                                     orgPath: orgPath, on: conn)
        try conn.execute("""
            WITH t AS (SELECT * FROM unnest($2::bigint[], $3::int[]) AS t(lot, n)),
                 u AS (UPDATE points_lots l SET remaining = l.remaining - t.n FROM t WHERE l.id = t.lot)
            INSERT INTO points_entries (customer_id, operation_id, lot_id, kind, points) SELECT $1, $4, t.lot, 'spend', -t.n FROM t
            """, customerId, takes.map(\.0), takes.map(\.1), op.id)
        try conn.execute("UPDATE points_accounts SET balance = balance - $2, updated_at = now() WHERE customer_id = $1", customerId, points)
        try facts.record(.pointsSpent, subject: op.id, MarketingFact(customerId: customerId, orgPath: orgPath, reason: reason, points: points),
                         on: conn)
        return Outcome(operation: op, balance: try visibleBalance(customerId, scope: scope, on: conn), created: true)
    }

    /// `POST /api/v1/points/{customerId}:spend`: from the lots the caller sees.
    func spend(customerId: String, points: Int, key: String, reason: String?, caller: CallerIdentity) throws -> Outcome {
        try database.transaction { conn in
            try spend(on: conn, customerId: customerId, points: points, key: key, reason: reason, orgPath: caller.orgPath, scope: caller.orgPath)
        }
    }

    /// Closes expired lots of up to `customers` customers on `conn` (the scheduler's tick): per customer
    /// the account first (the lock order of earn and spend), then its lots. Returns the lots closed.
    func expireDue(on conn: PostgresConnection, customers: Int = 200) throws -> Int {
        let due = try conn.query("""
            SELECT DISTINCT customer_id FROM points_lots WHERE remaining > 0 AND expires_at <= now() LIMIT $1
            """, customers).map { try $0.decode("customer_id", as: String.self) }
        var closed = 0
        for customer in due {
            _ = try lockAccount(customer, on: conn)
            let lots = try conn.query("""
                SELECT id, remaining, org_path FROM points_lots WHERE customer_id = $1 AND remaining > 0 AND expires_at <= now() FOR UPDATE
                """, customer)
            for lot in lots {
                let lotId: Int64 = try lot.decode("id"), remaining: Int = try lot.decode("remaining"), orgPath: String = try lot.decode("org_path")
                let op = try insertOperation(customer, key: "expire:\(lotId)", fingerprint: "expire", kind: "expire", points: remaining,
                                             reason: "lot expired", orgPath: orgPath, on: conn)
                try conn.execute("UPDATE points_lots SET remaining = 0 WHERE id = $1", lotId)
                try conn.execute("INSERT INTO points_entries (customer_id, operation_id, lot_id, kind, points) VALUES ($1, $2, $3, 'expire', $4)",
                                 customer, op.id, lotId, -remaining)
                try conn.execute("UPDATE points_accounts SET balance = balance - $2, updated_at = now() WHERE customer_id = $1", customer, remaining)
                try facts.record(.pointsExpired, subject: op.id, MarketingFact(customerId: customer, orgPath: orgPath, reason: "lot expired",
                                                                                  points: remaining), on: conn)
                closed += 1
            }
        }
        return closed
    }

    /// Balance (unexpired lots), open lots, and a page of the ledger, newest first — each of the lots the
    /// caller sees only: another unit's customer looks like one without points.
    func account(customerId: String, caller: CallerIdentity, page: PageRequest) throws -> JSONValue {
        try database.withConnection { conn in
            let balance = try visibleBalance(customerId, scope: caller.orgPath, on: conn)
            let lots = try conn.query("""
                SELECT id, earned, remaining, expires_at, earned_at FROM points_lots
                 WHERE customer_id = $1 AND remaining > 0 AND expires_at > now() AND \(Self.visible(scope: "$2")) ORDER BY expires_at, id LIMIT 100
                """, customerId, caller.orgPath).map { r -> JSONValue in
                .object(["id": .string(String(try r.decode("id", as: Int64.self))), "earned": .number(Double(try r.decode("earned", as: Int.self))),
                         "remaining": .number(Double(try r.decode("remaining", as: Int.self))),
                         "expiresAt": .string(RFC3339.string(try r.decode("expires_at"))), "earnedAt": .string(RFC3339.string(try r.decode("earned_at")))])
            }
            var after: Int64?
            if let key = page.after { guard let n = Int64(key) else { throw PageRequest.malformedCursor }; after = n }
            let rows = try conn.query("""
                SELECT e.id, e.kind, e.points, e.lot_id, e.operation_id, o.reason, e.created_at FROM points_entries e
                  JOIN points_operations o ON o.id = e.operation_id JOIN points_lots l ON l.id = e.lot_id
                 WHERE e.customer_id = $1 AND ($2::bigint IS NULL OR e.id < $2) AND \(Self.visible("l.org_path", scope: "$4"))
                 ORDER BY e.id DESC LIMIT $3
                """, customerId, after, page.limit + 1, caller.orgPath)
            var entries: [(String, JSONValue)] = try rows.map { r in
                let id = String(try r.decode("id", as: Int64.self))
                return (id, .object(["id": .string(id), "kind": .string(try r.decode("kind")), "points": .number(Double(try r.decode("points", as: Int.self))),
                                     "lotId": .string(String(try r.decode("lot_id", as: Int64.self))), "operationId": .string(try r.decode("operation_id")),
                                     "reason": (try r.decode("reason", as: String?.self)).map(JSONValue.string) ?? .null,
                                     "createdAt": .string(RFC3339.string(try r.decode("created_at")))]))
            }
            var next: JSONValue = .null
            if entries.count > page.limit { entries = Array(entries.prefix(page.limit)); next = .string(PageRequest.cursor(after: entries.last!.0)) }
            return .object(["customerId": .string(customerId), "balance": .number(Double(balance)), "lots": .array(lots),
                            "ledger": .object(["items": .array(entries.map(\.1)), "nextCursor": next])])
        }
    }
}
