import Contracts
import Foundation
import Postgres
import ServiceKit

/// Segment definitions and the frozen members of snapshot segments, through the caller's org scope: a
/// caller sees the segments owned by its unit and the units below it; any other segment does not exist
/// for it (404).
public struct SegmentStore: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let notFound = APIError.notFound("no such segment", code: "segment_not_found")
    /// Rows written per statement when freezing members.
    static let memberBatch = 10_000

    /// A new id: `seg_` and 20 hex digits of a random UUID.
    static func newId() -> String { RecordId.make("seg_") }

    static func isId(_ id: String) -> Bool {
        id.hasPrefix("seg_") && (5...64).contains(id.utf8.count)
            && id.utf8.dropFirst(4).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    /// The segment `id` if the caller sees it.
    public func segment(id: String, caller: CallerIdentity) throws -> SegmentDefinition {
        guard Self.isId(id) else { throw Self.notFound }
        let rows = try database.query("SELECT \(SegmentDefinition.columns) FROM segments s WHERE s.id = $1 AND starts_with(s.org_path, $2)",
                                      id, caller.orgPath)
        guard let row = rows.first else { throw Self.notFound }
        return try SegmentDefinition(row: row)
    }

    /// The segments of `ids` that exist, whoever owns them (for resolving references already checked).
    func definitions(_ ids: [String]) throws -> [String: SegmentDefinition] {
        try database.withConnection { try Self.definitions(ids, on: $0) }
    }

    static func definitions(_ ids: [String], on conn: PostgresConnection) throws -> [String: SegmentDefinition] {
        guard !ids.isEmpty else { return [:] }
        var out: [String: SegmentDefinition] = [:]
        for row in try conn.query("SELECT \(SegmentDefinition.columns) FROM segments s WHERE s.id = ANY($1::text[])", ids) {
            let s = try SegmentDefinition(row: row)
            out[s.id] = s
        }
        return out
    }

    /// Of `ids`, those the caller sees.
    func visibleIds(_ ids: [String], caller: CallerIdentity) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return Set(try database.query("SELECT id FROM segments WHERE id = ANY($1::text[]) AND starts_with(org_path, $2)",
                                      ids, caller.orgPath).map { try $0.decode("id", as: String.self) })
    }

    /// The caller's visible segments in id order.
    public func list(caller: CallerIdentity, page: PageRequest) throws -> Page<SegmentDefinition> {
        let rows = try database.query("""
            SELECT \(SegmentDefinition.columns) FROM segments s
             WHERE starts_with(s.org_path, $1) AND ($2::text IS NULL OR s.id > $2)
             ORDER BY s.id LIMIT $3
            """, caller.orgPath, page.after, page.limit + 1)
        return PageRequest.page(try rows.map { try SegmentDefinition(row: $0) }, limit: page.limit, key: \.id)
    }

    /// Stores a new segment owned by the caller's unit; a snapshot's `members` are frozen with it.
    func create(id: String, name: String, kind: SegmentKind, rule: JSONValue, caller: CallerIdentity,
                memberCount: Int, members: [String]?) throws -> SegmentDefinition {
        let ruleText = String(decoding: try JSONCoding.encoder().encode(rule), as: UTF8.self)
        return try database.transaction { conn in
            let rows = try conn.query("""
                INSERT INTO segments AS s (id, name, kind, rule, org_id, org_path, created_by, member_count)
                VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
                RETURNING \(SegmentDefinition.columns)
                """, id, name, kind.rawValue, ruleText, caller.orgId, caller.orgPath, caller.userId, Int64(memberCount))
            if let members { try Self.freeze(members, of: id, on: conn) }
            return try SegmentDefinition(row: rows[0])
        }
    }

    /// An arbitrary constant naming the advisory lock every rule change takes.
    static let ruleChangeLock: Int64 = 0x5e67_0001

    /// Changes the name and/or the rule (a snapshot's members stay until `:refresh`), after `check`
    /// has passed, in one transaction holding the lock on rule changes: two edits that only together
    /// would close a cycle of segments (A → B and B → A, on two replicas) cannot both pass, because
    /// `check` reads the other definitions through `lookup` inside that transaction.
    func update(_ segment: SegmentDefinition, name: String?, rule: JSONValue?,
                check: (_ lookup: ([String]) throws -> [String: SegmentDefinition]) throws -> Void) throws -> SegmentDefinition {
        let ruleText = try rule.map { String(decoding: try JSONCoding.encoder().encode($0), as: UTF8.self) }
        return try database.transaction { conn in
            _ = try conn.query("SELECT pg_advisory_xact_lock($1)", Self.ruleChangeLock)
            try check { ids in try Self.definitions(ids, on: conn) }
            let rows = try conn.query("""
            UPDATE segments s SET name = coalesce($2, s.name), rule = coalesce($3::jsonb, s.rule),
                   updated_at = now(), version = s.version + 1
             WHERE s.id = $1 RETURNING \(SegmentDefinition.columns)
            """, segment.id, name, ruleText)
            guard let row = rows.first else { throw Self.notFound }
            return try SegmentDefinition(row: row)
        }
    }

    /// Records a recomputation: the count, and for a snapshot its new frozen members.
    func refresh(_ segment: SegmentDefinition, memberCount: Int, members: [String]?) throws -> SegmentDefinition {
        try database.transaction { conn in
            if let members {
                try conn.execute("DELETE FROM segment_members WHERE segment_id = $1", segment.id)
                try Self.freeze(members, of: segment.id, on: conn)
            }
            let rows = try conn.query("""
                UPDATE segments s SET member_count = $2, refreshed_at = now(), version = s.version + 1
                 WHERE s.id = $1 RETURNING \(SegmentDefinition.columns)
                """, segment.id, Int64(memberCount))
            guard let row = rows.first else { throw Self.notFound }
            return try SegmentDefinition(row: row)
        }
    }

    /// The frozen members of a snapshot segment.
    func frozenMembers(of id: String) throws -> [String] {
        try database.query("SELECT customer_id FROM segment_members WHERE segment_id = $1", id)
            .map { try $0.decode("customer_id", as: String.self) }
    }

    private static func freeze(_ members: [String], of id: String, on conn: PostgresConnection) throws {
        var start = 0
        while start < members.count {
            let batch = Array(members[start..<min(start + memberBatch, members.count)])
            try conn.execute("""
                INSERT INTO segment_members (segment_id, customer_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING
                """, id, batch)
            start += memberBatch
        }
    }
}
