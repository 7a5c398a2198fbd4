import Foundation
import Postgres

/// A reward's stock split over `shards` rows (`reward_stock`), so that concurrent grants of one hot reward
/// lock different rows. A grant takes one unit from a shard picked at random among those not locked by
/// another transaction; when all are locked or empty it waits on the next one that still has units, and
/// only when every shard reads empty is the reward out of stock.
///
/// Every call runs inside the caller's transaction: a grant that fails later rolls its unit back.
enum StockShards {
    /// Takes one unit; the shard taken, or nil when the reward has none left.
    static func take(rewardId: String, shards: Int, on conn: PostgresConnection) throws -> Int? {
        let start = Int.random(in: 0..<max(1, shards))
        // Fast path: a free shard with units, without waiting on anyone.
        let quick = try conn.query("""
            UPDATE reward_stock s SET remaining = s.remaining - 1
              FROM (SELECT shard FROM reward_stock WHERE reward_id = $1 AND remaining > 0
                     ORDER BY (shard - $2 + $3) % $3 LIMIT 1 FOR UPDATE SKIP LOCKED) AS pick
             WHERE s.reward_id = $1 AND s.shard = pick.shard
            RETURNING s.shard
            """, rewardId, start, shards)
        if let row = quick.first { return try row.decode("shard") }
        // Every shard with units is locked by a concurrent grant (or none has units): wait on one. Each
        // statement sees the latest commits (READ COMMITTED), and `remaining > 0` is re-checked after the
        // lock wait, so a shard emptied meanwhile is skipped and the next one tried.
        for _ in 0..<(shards * 4 + 4) {
            let candidates = try conn.query("""
                SELECT shard FROM reward_stock WHERE reward_id = $1 AND remaining > 0 ORDER BY (shard - $2 + $3) % $3
                """, rewardId, start, shards)
            if candidates.isEmpty { return nil }
            for row in candidates {
                let shard: Int = try row.decode("shard")
                let taken = try conn.execute("""
                    UPDATE reward_stock SET remaining = remaining - 1 WHERE reward_id = $1 AND shard = $2 AND remaining > 0
                    """, rewardId, shard)
                if taken == 1 { return shard }
            }
        }
        return nil
    }

    /// Puts one unit back (a revoked grant).
    static func giveBack(rewardId: String, shard: Int, on conn: PostgresConnection) throws {
        try conn.execute("UPDATE reward_stock SET remaining = remaining + 1 WHERE reward_id = $1 AND shard = $2", rewardId, shard)
    }
}
