import Foundation
import Postgres

/// Per-provider sends per second, shared by every replica: each send takes one unit of the provider's
/// row for the current second (PostgreSQL's clock, so replicas agree), refused once the rate is used.
struct ProviderRateLimiter: Sendable {
    let database: PostgresPool

    /// Nil when granted; otherwise how long to wait for the next second.
    func acquire(_ provider: ProviderEndpoint) throws -> TimeInterval? {
        let rows = try database.query("""
            WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS t)
            INSERT INTO provider_rate_windows AS w (provider_id, second, used)
            SELECT $1, floor(t)::bigint, 1 FROM now
            ON CONFLICT (provider_id, second) DO UPDATE SET used = w.used + 1 WHERE w.used < $2
            RETURNING used, (SELECT t FROM now) AS t
            """, provider.id, provider.ratePerSecond)
        if rows.first != nil {
            // Old windows are cleared now and then, by whoever happens to send.
            if Int.random(in: 0..<500) == 0 {
                _ = try database.execute("DELETE FROM provider_rate_windows WHERE second < floor(extract(epoch FROM now()))::bigint - 60")
            }
            return nil
        }
        let t = Date().timeIntervalSince1970
        return max(0.005, t.rounded(.down) + 1 - t) + Double.random(in: 0...0.02)
    }
}
