import Contracts
import Foundation
import Postgres
import ServiceKit

/// The stored side of entry/exit events: a dynamic segment's recorded members, and the transaction
/// that records who entered or left and enqueues the matching events in the outbox (DESIGN.md §2:
/// the change and its event commit together).
struct MembershipTransitions: Sendable {
    let database: PostgresPool
    let outbox: Outbox
    /// Subscriber names (the relay's configuration maps them to URLs).
    let destinations: [String]
    static let batch = 10_000

    /// The payload of `segment_enter` and `segment_exit`.
    struct Payload: Encodable, Sendable {
        var segmentId: String
        var customerId: String
        /// The segment owner's org path (a canvas of that subtree may react).
        var orgPath: String
        var at: Date
    }

    /// Takes or renews the watcher lease for `owner` for `seconds`; false while another replica holds it.
    func holdLease(owner: String, seconds: Double) throws -> Bool {
        !(try database.query("""
            INSERT INTO segment_watch_lease AS l (name, owner, expires_at)
            VALUES ('membership-watcher', $1, now() + make_interval(secs => $2))
            ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
             WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
            RETURNING 1 AS held
            """, owner, seconds).isEmpty)
    }

    /// Gives the lease up (at shutdown), so another replica takes over at once.
    func releaseLease(owner: String) {
        _ = try? database.execute("DELETE FROM segment_watch_lease WHERE name = 'membership-watcher' AND owner = $1", owner)
    }

    /// The dynamic segments, with whether their members were recorded already.
    func dynamicSegments() throws -> [(segment: SegmentDefinition, tracked: Bool)] {
        try database.query("SELECT \(SegmentDefinition.columns), s.tracked_at FROM segments s WHERE s.kind = 'dynamic' ORDER BY s.id")
            .map { (try SegmentDefinition(row: $0), try $0.decode("tracked_at", as: Date?.self) != nil) }
    }

    func recordedMembers(of id: String) throws -> Set<String> {
        Set(try database.query("SELECT customer_id FROM segment_memberships WHERE segment_id = $1", id)
            .map { try $0.decode("customer_id", as: String.self) })
    }

    /// Records a segment's first members without events.
    func baseline(_ segment: SegmentDefinition, members: [String]) throws {
        try database.transaction { conn in
            try Self.chunks(members) { batch in
                try conn.execute("""
                    INSERT INTO segment_memberships (segment_id, customer_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING
                    """, segment.id, batch)
            }
            try conn.execute("UPDATE segments SET tracked_at = now() WHERE id = $1 AND tracked_at IS NULL", segment.id)
        }
    }

    /// Records that `entered` joined and `exited` left `segment`, and enqueues one event per change
    /// this call actually made (another replica may have recorded some already). Returns the counts.
    @discardableResult
    func record(_ segment: SegmentDefinition, entered: [String], exited: [String]) throws -> (entered: Int, exited: Int) {
        guard !entered.isEmpty || !exited.isEmpty else { return (0, 0) }
        return try database.transaction { conn in
            var events: [OutboxEvent] = []
            var counts = (entered: 0, exited: 0)
            let now = Date()
            try Self.chunks(entered) { batch in
                let rows = try conn.query("""
                    INSERT INTO segment_memberships (segment_id, customer_id) SELECT $1, unnest($2::text[])
                    ON CONFLICT DO NOTHING RETURNING customer_id
                    """, segment.id, batch)
                for row in rows {
                    counts.entered += 1
                    events += try self.events("segment_enter", segment, try row.decode("customer_id"), now)
                }
            }
            try Self.chunks(exited) { batch in
                let rows = try conn.query("""
                    DELETE FROM segment_memberships WHERE segment_id = $1 AND customer_id = ANY($2::text[]) RETURNING customer_id
                    """, segment.id, batch)
                for row in rows {
                    counts.exited += 1
                    events += try self.events("segment_exit", segment, try row.decode("customer_id"), now)
                }
            }
            try outbox.enqueue(on: conn, events: events)
            return counts
        }
    }

    private func events(_ type: String, _ segment: SegmentDefinition, _ customerId: String, _ at: Date) throws -> [OutboxEvent] {
        let payload = Payload(segmentId: segment.id, customerId: customerId, orgPath: segment.orgPath, at: at)
        let id = UUID()
        // One id for every destination: receivers de-duplicate by it.
        return try destinations.map { try OutboxEvent(type: type, destination: $0, payload: payload, id: id, occurredAt: at) }
    }

    private static func chunks(_ ids: [String], _ body: ([String]) throws -> Void) throws {
        var start = 0
        while start < ids.count {
            try body(Array(ids[start..<min(start + batch, ids.count)]))
            start += batch
        }
    }
}
