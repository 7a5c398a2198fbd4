import Foundation
import Postgres

/// Applies consent changes inside the caller's transaction: the current state per channel, and an
/// evidence row for every real change (a repeat of the same answer is not a change).
enum ConsentLedger {
    static func apply(_ changes: [ConsentChange], customerId: String, on conn: PostgresConnection,
                      recordedBy: String?, requestId: String?) throws {
        for change in changes {
            let changed = try conn.query("""
                INSERT INTO consents AS k (customer_id, channel, granted, source, changed_at) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (customer_id, channel) DO UPDATE
                   SET granted = EXCLUDED.granted, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at
                 WHERE k.granted IS DISTINCT FROM EXCLUDED.granted
                RETURNING 1
                """, customerId, change.channel, change.granted, change.source, change.changedAt)
            guard !changed.isEmpty else { continue }
            try conn.execute("""
                INSERT INTO consent_evidence (customer_id, channel, granted, source, changed_at, recorded_by, request_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, customerId, change.channel, change.granted, change.source, change.changedAt, recordedBy, requestId)
            if change.channel == "marketing" {
                try conn.execute("UPDATE customers SET marketing_opt_out = $2 WHERE id = $1", customerId, !change.granted)
            }
        }
    }
}
