import Foundation
import Postgres

/// Writes events into the service's `outbox_events` table inside the caller's transaction, so the
/// change and the event commit (or roll back) together; `OutboxRelay` delivers them afterwards.
///
/// ```swift
/// try pool.transaction { conn in
///     try conn.execute("UPDATE customers SET consent = false WHERE id = $1", id)
///     try outbox.enqueue(on: conn, event: OutboxEvent(type: "customer.consent_withdrawn",
///                                                     destination: "dispatcher", payload: change))
/// }
/// ```
///
/// Each enqueue also issues `pg_notify` on `notificationChannel`, delivered at COMMIT, which wakes the
/// relays at once. It is only a hint: relays poll as well. (Every transaction that notifies takes a
/// global lock at commit; a service with very high event rates may turn `notifies` off and rely on
/// the relay's polling.)
///
/// Thread-safety: an immutable value; the connection passed in belongs to the calling thread.
public struct Outbox: Sendable {
    /// The service schema holding `outbox_events`.
    public let schema: String
    /// The NOTIFY channel relays of this schema listen on (`outbox_<schema>`).
    public let notificationChannel: String
    /// Whether `enqueue` issues a NOTIFY.
    public var notifies: Bool
    /// Largest accepted payload, in bytes of JSON text.
    public var maximumPayloadBytes: Int
    let tables: DataPlaneTables

    public init(schema: String, notifies: Bool = true, maximumPayloadBytes: Int = 1 << 20) throws(OutboxError) {
        tables = try DataPlaneTables.make(schema: schema, invalidConfiguration: OutboxError.invalidConfiguration)
        self.schema = schema
        self.notificationChannel = try Self.channel(schema: schema)
        self.notifies = notifies
        self.maximumPayloadBytes = max(1, maximumPayloadBytes)
    }

    /// The channel name for `schema`: one channel per service schema, since NOTIFY channels are shared
    /// by the whole database.
    public static func channel(schema: String) throws(OutboxError) -> String {
        let name = "outbox_" + schema
        guard PostgresIdentifier.isValid(name) else {
            throw .invalidConfiguration("schema name '\(schema)' is too long for a notification channel (at most 56 bytes)")
        }
        return name
    }

    /// Writes `event` in the transaction open on `connection`. Returns false when the same event id was
    /// already enqueued for the same destination (a retried caller), in which case nothing changes.
    @discardableResult
    public func enqueue(on connection: PostgresConnection, event: OutboxEvent) throws(OutboxError) -> Bool {
        try enqueue(on: connection, events: [event]) == 1
    }

    /// Writes several events in one statement, in the transaction open on `connection`; returns how many
    /// were new. An empty list does nothing.
    @discardableResult
    public func enqueue(on connection: PostgresConnection, events: [OutboxEvent]) throws(OutboxError) -> Int {
        guard connection.isInTransaction else { throw .notInTransaction }
        guard !events.isEmpty else { return 0 }
        for event in events where event.payloadJSON.utf8.count > maximumPayloadBytes {
            throw .invalidEvent("payload of \(event.type) is \(event.payloadJSON.utf8.count) bytes, more than \(maximumPayloadBytes)")
        }
        var inserted = 0
        do {
            // Chunks keep each statement's parameter arrays to a sensible size.
            var start = 0
            while start < events.count {
                let chunk = events[start..<min(start + 1_000, events.count)]
                start += chunk.count
                let rows = try connection.query("""
                    INSERT INTO \(tables.outbox) (event_id, event_type, destination, payload, occurred_at)
                    SELECT e.id, e.type, e.destination, e.payload::jsonb, e.occurred_at
                    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
                         AS e(id, type, destination, payload, occurred_at)
                    ON CONFLICT ON CONSTRAINT outbox_events_event_destination_key DO NOTHING
                    RETURNING seq
                    """,
                    chunk.map(\.id), chunk.map(\.type), chunk.map(\.destination), chunk.map(\.payloadJSON),
                    chunk.map(\.occurredAt))
                inserted += rows.count
            }
            if notifies, inserted > 0 {
                try PostgresListener.notify(notificationChannel, on: connection)
            }
        } catch {
            throw .database(error)
        }
        return inserted
    }

    /// What waits in the outbox (pending and dead-lettered events), for the relay's gauges, health
    /// pages and tests. Each count reads its status's partial index only: delivered rows are history,
    /// and counting them too scanned the whole table — every 5 s per relay, 0.4-0.6 s of a core at a
    /// few million rows, which stretched the real-time path's tail.
    public func statistics(on connection: PostgresConnection) throws(OutboxError) -> OutboxStatistics {
        do {
            let rows = try connection.query("""
                SELECT (SELECT count(*) FROM \(tables.outbox) WHERE status = 'pending') AS pending,
                       (SELECT count(*) FROM \(tables.outbox) WHERE status = 'dead') AS dead,
                       coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM \(tables.outbox) WHERE status = 'pending')),
                                0)::float8 AS oldest
                """)
            guard let row = rows.first else { return OutboxStatistics(pending: 0, dead: 0, oldestPendingAge: 0) }
            return OutboxStatistics(pending: try row.decode("pending"), dead: try row.decode("dead"),
                                    oldestPendingAge: try row.decode("oldest"))
        } catch {
            throw .database(error)
        }
    }

    /// Puts dead-lettered events back to `pending` with a fresh attempt count (after the receiver was
    /// fixed); returns how many. Runs in whatever transaction state `connection` is in.
    @discardableResult
    public func requeueDead(on connection: PostgresConnection, eventIds: [UUID]) throws(OutboxError) -> Int {
        do {
            return try connection.execute("""
                UPDATE \(tables.outbox)
                SET status = 'pending', attempts = 0, next_attempt_at = now(), lease_owner = NULL, lease_token = NULL
                WHERE status = 'dead' AND event_id = ANY($1::uuid[])
                """, eventIds)
        } catch {
            throw .database(error)
        }
    }

    /// Deletes delivered events older than `age` seconds, at most `limit` per call; returns how many.
    /// Dead letters are kept for an operator.
    @discardableResult
    public func purgeDelivered(on connection: PostgresConnection, olderThan age: TimeInterval,
                               limit: Int = 10_000) throws(OutboxError) -> Int {
        do {
            return try connection.execute("""
                DELETE FROM \(tables.outbox) WHERE seq IN (
                    SELECT seq FROM \(tables.outbox)
                    WHERE status = 'delivered' AND delivered_at < now() - make_interval(secs => $1)
                    LIMIT $2)
                """, max(0, age), max(1, limit))
        } catch {
            throw .database(error)
        }
    }
}

/// How many outbox events wait: for delivery, or in the dead letters.
public struct OutboxStatistics: Sendable, Equatable {
    public let pending: Int
    public let dead: Int
    /// Seconds since the oldest pending event was written; 0 when none is pending.
    public let oldestPendingAge: Double
}
