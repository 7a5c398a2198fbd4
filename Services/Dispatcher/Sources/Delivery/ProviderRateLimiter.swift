import Foundation
import Postgres

/// Per-provider sends per second, shared by every replica: a delivery batch takes its units of the
/// provider's row for the current second (PostgreSQL's clock, so replicas agree) in one statement,
/// never more than the rate in all.
struct ProviderRateLimiter: Sendable {
    let database: PostgresPool

    /// How many of `wanted` sends may go now, and when the next second starts (for the rest).
    func acquire(_ provider: ProviderEndpoint, wanted: Int = 1) throws -> (granted: Int, wait: TimeInterval) {
        guard wanted > 0 else { return (0, 0) }
        let rows = try database.query("""
            WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS t)
            INSERT INTO provider_rate_windows AS w (provider_id, second, used, last_grant)
            SELECT $1, floor(t)::bigint, least($3, $2), least($3, $2) FROM now
            ON CONFLICT (provider_id, second) DO UPDATE
                SET used = least(w.used + $3, $2), last_grant = least(w.used + $3, $2) - w.used
                WHERE w.used < $2
            RETURNING last_grant
            """, provider.id, provider.ratePerSecond, wanted)
        let granted: Int = try rows.first?.decode("last_grant") ?? 0
        if granted > 0, Int.random(in: 0..<500) == 0 {
            // Old windows are cleared now and then, by whoever happens to send.
            _ = try database.execute("DELETE FROM provider_rate_windows WHERE second < floor(extract(epoch FROM now()))::bigint - 60")
        }
        let t = Date().timeIntervalSince1970
        return (granted, max(0.005, t.rounded(.down) + 1 - t) + Double.random(in: 0...0.02))
    }
}
