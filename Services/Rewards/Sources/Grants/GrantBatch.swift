import Contracts
import Foundation
import Postgres
import ServiceKit

/// Concurrent common grants of one reward, granted together in one statement and one commit.
///
/// A hot reward's rate is bounded by commits: each grant holds a stock shard until its commit is on disk.
/// Gathered by a `GroupCommit` (no waiting: a grant alone goes at once; grants that arrive while a batch
/// commits form the next), a batch locks the customers' usage rows, then one or two free shards, hands
/// units to the grants the limits allow, in arrival order, and writes their usage, grant rows and outbox
/// facts — a grant either gets all of that or nothing.
///
/// A batch never refuses stock on its own: a grant it could not give a unit from the shards it holds
/// (they ran low, or every shard is held by someone else) is answered `alone` and goes the one-statement
/// way, which waits for a shard and alone says `out_of_stock`. So does every grant of a batch that fails
/// (a duplicate key committed meanwhile, a deadlock, a customer's first grant raced by another path).
struct GrantBatch: Sendable {
    /// One grant waiting for its batch; every item of a batch is for the same reward terms.
    struct Item: Sendable {
        var id: String
        var reward: Reward
        var request: GrantRequest
        var key: String
        var caller: CallerIdentity
    }

    enum Outcome: Sendable {
        case granted(Grant)
        /// The customer's usage row refused it (a limit is reached).
        case limitReached
        /// The key was granted before: answer that grant.
        case replay
        /// Not decided here: grant it on its own.
        case alone
    }

    /// Shards one batch locks at most: enough units for a batch but for a reward's last ones, and the
    /// rest stays free for concurrent batches and other replicas.
    static let shardsPerBatch = 2

    let database: PostgresPool
    let facts: RewardFacts
    let timeZone: String
    /// Where a failed batch is told: the fallback hides it from callers, and a batch that always failed
    /// would silently grant one at a time.
    let logger: Logger

    /// The group a grant joins: one reward, as its terms are now (an edit makes a new group).
    static func group(of item: Item) -> String {
        item.reward.id + "|" + String(item.reward.updatedAt.timeIntervalSince1970)
    }

    /// Keys two items of a batch never share: the usage row is upserted once per statement, and a key
    /// is granted once.
    static func keys(of item: Item) -> [String] {
        ["c:" + item.request.customerId, "k:" + item.key]
    }

    /// Grants `items` (one reward's) together; one outcome per item, in order. Never throws: a failed
    /// statement leaves nothing behind and answers every item `alone`.
    func grant(_ items: [Item]) -> [Outcome] {
        guard let first = items.first else { return [] }
        do {
            return try grantInOneStatement(items, reward: first.reward)
        } catch {
            logger.warning("grant batch failed, its grants go alone", ["rewardId": .string(first.reward.id), "grants": .int(items.count),
                                                                       "error": .string("\(error)")])
            return items.map { _ in .alone }
        }
    }

    private func grantInOneStatement(_ items: [Item], reward: Reward) throws -> [Outcome] {
        let now = Date()
        var eventIds: [String] = [], payloads: [String] = []
        var occurredAt = now
        for item in items {
            let fact = MarketingFact(customerId: item.request.customerId, orgPath: reward.orgPath, canvasId: item.request.canvasId,
                                     nodeId: item.request.nodeId, rewardId: reward.id, rewardKind: reward.kind.rawValue, grantId: item.id,
                                     cost: reward.unitCost)
            if let outbox = try facts.event(.rewardGranted, subject: item.id, fact) {
                eventIds.append(outbox.event.id.uuidString)
                payloads.append(outbox.event.payloadJSON)
                occurredAt = outbox.event.occurredAt
            }
        }
        let shards = max(1, reward.shards)
        let rows = try database.query("""
            WITH req AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                       WITH ORDINALITY AS r(id, customer_id, key, fingerprint, canvas_id, node_id, granted_by, ord)),
            quota AS (
                SELECT 1 FROM reward_quotas WHERE reward_id = $8 LIMIT 1),
            usage_lock AS (
                -- Usage rows first, in customer order, as every path takes them before a shard: one primary
                -- key probe per customer (as for `replayed`, `= ANY(…)` could scan all of the reward's rows).
                SELECT ul.customer_id, ul.total, ul.day, ul.day_count
                  FROM (SELECT DISTINCT customer_id FROM req WHERE NOT EXISTS (SELECT 1 FROM quota) ORDER BY customer_id) AS c
                 CROSS JOIN LATERAL (SELECT customer_id, total, day, day_count FROM reward_usage
                                      WHERE reward_id = $8 AND customer_id = c.customer_id FOR UPDATE) AS ul),
            replayed AS (
                -- One unique-index probe per key: with `idempotency_key = ANY(…)` the planner, misled by the
                -- statistics of a reward that just turned hot, scanned all of the reward's grants per batch.
                SELECT req.key AS idempotency_key FROM req
                 CROSS JOIN LATERAL (SELECT 1 FROM grants WHERE reward_id = $8 AND idempotency_key = req.key LIMIT 1) AS found),
            eligible AS (
                SELECT req.*, row_number() OVER (ORDER BY req.ord) - 1 AS rank
                  FROM req LEFT JOIN usage_lock ul ON ul.customer_id = req.customer_id
                 WHERE NOT EXISTS (SELECT 1 FROM quota) AND req.key NOT IN (SELECT idempotency_key FROM replayed)
                   AND CASE WHEN ul.customer_id IS NULL THEN coalesce($9::int, 1) >= 1 AND coalesce($10::int, 1) >= 1
                            ELSE ($9::int IS NULL OR ul.total < $9) AND ($10::int IS NULL OR ul.day <> (now() AT TIME ZONE $11)::date
                                                                          OR ul.day_count < $10) END),
            held AS (
                -- Free shards only (never waiting here: a batch that waits would hold its usage rows meanwhile).
                SELECT shard, remaining FROM reward_stock
                 WHERE reward_id = $8 AND remaining > 0 AND (SELECT count(*) FROM usage_lock) >= 0 AND EXISTS (SELECT 1 FROM eligible)
                 ORDER BY (shard - $12 + $13) % $13 LIMIT $14 FOR UPDATE SKIP LOCKED),
            spans AS (
                SELECT shard, remaining, sum(remaining) OVER (ORDER BY shard) - remaining AS before FROM held),
            assigned AS (
                SELECT e.*, sp.shard FROM eligible e JOIN spans sp ON e.rank >= sp.before AND e.rank < sp.before + sp.remaining),
            s AS (
                UPDATE reward_stock st SET remaining = st.remaining - c.n
                  FROM (SELECT shard, count(*) AS n FROM assigned GROUP BY shard) c
                 WHERE st.reward_id = $8 AND st.shard = c.shard
                RETURNING st.shard),
            u AS (
                INSERT INTO reward_usage AS u (reward_id, customer_id, total, day, day_count)
                SELECT $8, customer_id, 1, (now() AT TIME ZONE $11)::date, 1 FROM assigned ORDER BY customer_id
                ON CONFLICT (reward_id, customer_id) DO UPDATE
                   SET total = u.total + 1,
                       day_count = CASE WHEN u.day = EXCLUDED.day THEN u.day_count + 1 ELSE 1 END, day = EXCLUDED.day
                 WHERE ($9::int IS NULL OR u.total < $9) AND ($10::int IS NULL OR u.day <> EXCLUDED.day OR u.day_count < $10)
                RETURNING u.customer_id),
            g AS (
                INSERT INTO grants (id, reward_id, customer_id, idempotency_key, fingerprint, status, cost, shard, valid_from, valid_until,
                                    canvas_id, node_id, external_status, granted_by, org_path)
                SELECT a.id, $8, a.customer_id, a.key, a.fingerprint, 'granted', $15::numeric, a.shard, now(),
                       coalesce($16, now() + make_interval(days => $17::int)), a.canvas_id, a.node_id, $18, a.granted_by, $19
                  FROM assigned a JOIN u ON u.customer_id = a.customer_id
                RETURNING *),
            o AS (
                INSERT INTO outbox_events (event_id, event_type, destination, payload, occurred_at)
                SELECT f.event_id::uuid, $20::text, d.destination, f.payload::jsonb, $21::timestamptz
                  FROM unnest($1::text[], $22::text[], $23::text[]) AS f(grant_id, event_id, payload)
                  JOIN g ON g.id = f.grant_id CROSS JOIN unnest($24::text[]) AS d(destination)
                ON CONFLICT ON CONSTRAINT outbox_events_event_destination_key DO NOTHING
                RETURNING 1),
            settled AS (
                -- A usage row that refused a grant after its unit was taken (a customer's first grant raced by
                -- another path) would leak that unit: fail the statement, and every grant goes alone.
                SELECT CASE WHEN (SELECT count(*) FROM u) <> (SELECT count(*) FROM assigned)
                            THEN grant_batch_refused('a usage row changed under the batch') END AS refused,
                       (SELECT count(*) FROM o) AS facts, EXISTS (SELECT 1 FROM quota) AS has_quota,
                       CASE WHEN $25::text IS NOT NULL AND EXISTS (SELECT 1 FROM g) THEN pg_notify($25, '') IS NULL END AS notified)
            SELECT req.ord, e.ord IS NOT NULL AS eligible, rp.idempotency_key IS NOT NULL AS replay, settled.refused, settled.facts,
                   settled.has_quota, \(Grant.columns)
              FROM req CROSS JOIN settled
              LEFT JOIN eligible e ON e.ord = req.ord
              LEFT JOIN replayed rp ON rp.idempotency_key = req.key
              LEFT JOIN g ON g.id = req.id LEFT JOIN rewards r ON r.id = g.reward_id
             ORDER BY req.ord
            """,
            items.map(\.id), items.map(\.request.customerId), items.map(\.key), items.map(\.request.fingerprint),
            items.map(\.request.canvasId), items.map(\.request.nodeId), items.map(\.caller.userId),
            reward.id, reward.perCustomerLimit, reward.perDayLimit, timeZone, Int.random(in: 0..<shards), shards, Self.shardsPerBatch,
            reward.unitCost, reward.validUntil, reward.validityDays ?? 0, reward.kind == .external ? "pending" : nil, reward.orgPath,
            MarketingFactType.rewardGranted.rawValue, occurredAt, eventIds, payloads,
            eventIds.isEmpty ? [] : facts.destinations, facts.notificationChannel)
        guard rows.count == items.count else { return items.map { _ in .alone } }
        return try rows.map { row in
            if try row.decode("id", as: String?.self) != nil { return .granted(try Grant(row: row)) }
            if try row.decode("replay", as: Bool.self) { return .replay }
            // Quotas are the transaction path's; an eligible grant given no unit found the held shards
            // short, or none free.
            if try row.decode("has_quota", as: Bool.self) || row.decode("eligible", as: Bool.self) { return .alone }
            return .limitReached
        }
    }
}
