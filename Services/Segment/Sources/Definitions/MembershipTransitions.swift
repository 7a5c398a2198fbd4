import Contracts
import Foundation
import Postgres
import ServiceKit

/// The stored side of entry/exit events: a dynamic segment's recorded members, and the transactions
/// that record who entered or left and enqueue the matching events in the outbox (DESIGN.md §2:
/// the change and its event commit together).
///
/// Every write is one bounded transaction (the watcher hands over at most `MembershipWatcher.batchSize`
/// customers at a time: a rule change may move millions) that first checks, and renews, the
/// watcher's lease under a row lock (`fence`): a replica that lost the lease writes nothing, and no
/// other replica can take the lease over while a write is open. A crash between two batches loses
/// nothing and duplicates nothing: the rows and events of each batch committed together, and the next
/// watcher compares the index with the rows.
struct MembershipTransitions: Sendable {
    let database: PostgresPool
    let outbox: Outbox
    /// Subscriber names (the relay's configuration maps them to URLs).
    let destinations: [String]
    /// Who writes: the lease holder's name, and how long each write renews the lease for.
    struct Lease: Sendable {
        var owner: String
        var seconds: Double
    }

    /// The lease is someone else's (or gone): this replica must stop writing and start from the
    /// records once it holds the lease again.
    struct LeaseLost: Error, CustomStringConvertible {
        var description: String { "the segment watcher lease is held by another replica" }
    }

    /// The payload of `segment_enter` and `segment_exit`.
    struct Payload: Encodable, Sendable {
        var segmentId: String
        var customerId: String
        /// The segment owner's org path (a canvas of that subtree may react).
        var orgPath: String
        var at: Date
    }

    /// Takes the watcher lease for `lease.seconds` (or renews it when it is `lease.owner`'s already);
    /// false while another replica holds it.
    func takeLease(_ lease: Lease) throws -> Bool {
        !(try database.query("""
            INSERT INTO segment_watch_lease AS l (name, owner, expires_at)
            VALUES ('membership-watcher', $1, now() + make_interval(secs => $2))
            ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
             WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
            RETURNING 1 AS held
            """, lease.owner, lease.seconds).isEmpty)
    }

    /// Renews the lease `lease.owner` holds; false when it names someone else (or nobody): then the
    /// lease was lost since it was taken, and another replica may have written meanwhile.
    ///
    /// Ownership is what counts, not the expiry: an expired lease still naming the owner was taken by
    /// no one (taking it changes the owner; only the owner deletes it), so nobody else wrote meanwhile.
    func renewLease(_ lease: Lease) throws -> Bool {
        try database.withConnection { conn in try Self.renew(lease, on: conn) }
    }

    /// Gives the lease up (at shutdown), so another replica takes over at once.
    func releaseLease(owner: String) {
        _ = try? database.execute("DELETE FROM segment_watch_lease WHERE name = 'membership-watcher' AND owner = $1", owner)
    }

    private static func renew(_ lease: Lease, on conn: PostgresConnection) throws -> Bool {
        !(try conn.query("""
            UPDATE segment_watch_lease SET expires_at = now() + make_interval(secs => $2)
             WHERE name = 'membership-watcher' AND owner = $1
            RETURNING 1 AS held
            """, lease.owner, lease.seconds).isEmpty)
    }

    /// First statement of every write: renews the lease (see `renewLease`) and keeps its row locked
    /// until the transaction ends, or throws `LeaseLost`. The row lock makes a replica trying to take
    /// the lease over wait for this transaction, and then find it renewed: while a write is open, no
    /// one else can become the watcher.
    private func fence(_ conn: PostgresConnection, _ lease: Lease) throws {
        guard try Self.renew(lease, on: conn) else { throw LeaseLost() }
    }

    /// The dynamic segments, with whether their members were recorded already.
    func dynamicSegments() throws -> [(segment: SegmentDefinition, tracked: Bool)] {
        try database.query("SELECT \(SegmentDefinition.columns), s.tracked_at FROM segments s WHERE s.kind = 'dynamic' ORDER BY s.id")
            .map { (try SegmentDefinition(row: $0), try $0.decode("tracked_at", as: Date?.self) != nil) }
    }

    /// One page of a segment's recorded members: at most `limit` ids after `after`, in order.
    func recordedMembers(of id: String, after: String?, limit: Int) throws -> [String] {
        try database.query("""
            SELECT customer_id FROM segment_memberships
             WHERE segment_id = $1 AND ($2::text IS NULL OR customer_id > $2::text)
             ORDER BY customer_id LIMIT $3
            """, id, after, Int64(limit))
            .map { try $0.decode("customer_id", as: String.self) }
    }

    /// All of a segment's recorded members (tests; the watcher pages with the other form).
    func recordedMembers(of id: String) throws -> Set<String> {
        Set(try database.query("SELECT customer_id FROM segment_memberships WHERE segment_id = $1", id)
            .map { try $0.decode("customer_id", as: String.self) })
    }

    /// In one transaction fenced by `lease`: records that `entered` joined and `exited` left
    /// `segment`, and, when `announce`, enqueues one event per change this call actually made (rows
    /// already as recorded make none). `announce` false records silently (a segment's first members).
    /// Meant for one batch (a few thousand customers): everything is held in memory until the commit.
    /// Returns the counts of changes made.
    @discardableResult
    func record(_ segment: SegmentDefinition, entered: [String], exited: [String], at: Date, announce: Bool = true,
                lease: Lease) throws -> (entered: Int, exited: Int) {
        guard !entered.isEmpty || !exited.isEmpty else { return (0, 0) }
        return try database.transaction { conn in
            try fence(conn, lease)
            var events: [OutboxEvent] = []
            var counts = (entered: 0, exited: 0)
            if !entered.isEmpty {
                let rows = try conn.query("""
                    INSERT INTO segment_memberships (segment_id, customer_id) SELECT $1, unnest($2::text[])
                    ON CONFLICT DO NOTHING RETURNING customer_id
                    """, segment.id, entered)
                counts.entered = rows.count
                if announce {
                    for row in rows { events += try self.events("segment_enter", segment, try row.decode("customer_id"), at) }
                }
            }
            if !exited.isEmpty {
                let rows = try conn.query("""
                    DELETE FROM segment_memberships WHERE segment_id = $1 AND customer_id = ANY($2::text[]) RETURNING customer_id
                    """, segment.id, exited)
                counts.exited = rows.count
                if announce {
                    for row in rows { events += try self.events("segment_exit", segment, try row.decode("customer_id"), at) }
                }
            }
            try outbox.enqueue(on: conn, events: events)
            return counts
        }
    }

    /// Marks a segment's members as recorded (after its silent first batches), fenced like `record`.
    func markTracked(_ segment: SegmentDefinition, lease: Lease) throws {
        try database.transaction { conn in
            try fence(conn, lease)
            try conn.execute("UPDATE segments SET tracked_at = now() WHERE id = $1 AND tracked_at IS NULL", segment.id)
        }
    }

    private func events(_ type: String, _ segment: SegmentDefinition, _ customerId: String, _ at: Date) throws -> [OutboxEvent] {
        let payload = Payload(segmentId: segment.id, customerId: customerId, orgPath: segment.orgPath, at: at)
        let id = UUID()
        // One id for every destination: receivers de-duplicate by it.
        return try destinations.map { try OutboxEvent(type: type, destination: $0, payload: payload, id: id, occurredAt: at) }
    }
}
