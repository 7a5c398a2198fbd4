import Foundation
import Postgres

/// De-duplication of received events by id, per consumer (the `inbox_events` table).
///
/// Call `receive` first inside the transaction that applies the event's effects: it inserts
/// `(consumer, event id)` with `ON CONFLICT DO NOTHING`, so the effects and the dedupe record commit
/// together or not at all. A concurrent delivery of the same event waits on the first one's row
/// and, once that commits, sees a conflict (false); if the first rolls back, the second proceeds.
///
/// Thread-safety: an immutable value; the connection belongs to the calling thread.
public struct Inbox: Sendable {
    public let schema: String
    let tables: DataPlaneTables

    public init(schema: String) throws(OutboxError) {
        tables = try DataPlaneTables.make(schema: schema, invalidConfiguration: OutboxError.invalidConfiguration)
        self.schema = schema
    }

    /// Records that `consumer` processes `eventId`; true when it is new, false for a duplicate (then
    /// the caller must skip the effects). Must run inside the caller's transaction.
    public func receive(on connection: PostgresConnection, eventId: UUID, consumer: String,
                        eventType: String? = nil) throws(OutboxError) -> Bool {
        guard connection.isInTransaction else { throw .notInTransaction }
        guard DataPlaneText.isName(consumer) else {
            throw .invalidConfiguration("consumer must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        do {
            let inserted = try connection.execute("""
                INSERT INTO \(tables.inbox) (consumer, event_id, event_type) VALUES ($1, $2, $3)
                ON CONFLICT (consumer, event_id) DO NOTHING
                """, consumer, eventId, eventType.map { String($0.prefix(200)) })
            return inserted == 1
        } catch {
            throw .database(error)
        }
    }

    /// Records that `consumer` processes each of `events` (id, type) in one statement; the ids that are
    /// new (the caller applies only those). Must run inside the caller's transaction.
    public func receive(on connection: PostgresConnection, events: [(id: UUID, type: String)],
                        consumer: String) throws(OutboxError) -> Set<UUID> {
        guard connection.isInTransaction else { throw .notInTransaction }
        guard DataPlaneText.isName(consumer) else {
            throw .invalidConfiguration("consumer must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        guard !events.isEmpty else { return [] }
        do {
            // Sorted, so that concurrent batches take the unique index's locks in one order.
            let sorted = events.sorted { $0.id.uuidString < $1.id.uuidString }
            let rows = try connection.query("""
                INSERT INTO \(tables.inbox) (consumer, event_id, event_type)
                SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type)
                ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id
                """, consumer, sorted.map(\.id), sorted.map { String($0.type.prefix(200)) })
            var new = Set<UUID>()
            for row in rows { new.insert(try row.decode("event_id")) }
            return new
        } catch let error as PostgresError {
            throw .database(error)
        } catch {
            throw .database(.invalidState("\(error)"))
        }
    }

    /// Deletes dedupe records older than `age` seconds (at most `limit`). Keep `age` well above the
    /// longest time an event can stay undelivered (the relay's whole retry schedule), or a late
    /// redelivery would be processed twice.
    @discardableResult
    public func purge(on connection: PostgresConnection, olderThan age: TimeInterval, limit: Int = 10_000) throws(OutboxError) -> Int {
        do {
            return try connection.execute("""
                DELETE FROM \(tables.inbox) WHERE (consumer, event_id) IN (
                    SELECT consumer, event_id FROM \(tables.inbox)
                    WHERE received_at < now() - make_interval(secs => $1) LIMIT $2)
                """, max(0, age), max(1, limit))
        } catch {
            throw .database(error)
        }
    }
}
