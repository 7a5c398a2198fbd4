import Contracts
import Foundation
import Postgres

/// How a segment's members are decided (DESIGN.md §3).
public enum SegmentKind: String, Sendable, Codable, CaseIterable {
    /// Members are whoever satisfies the rule now, computed from the index whenever asked.
    case dynamic
    /// Members were frozen when the segment was created (or last refreshed) and are stored.
    case snapshot
}

/// A segment as the API shows it.
public struct SegmentDefinition: Sendable, Encodable, Equatable {
    public var id: String
    public var name: String
    public var kind: SegmentKind
    /// The rule-language condition, as written.
    public var rule: JSONValue
    /// The owning org unit: members come from its subtree only.
    public var orgId: String
    public var orgPath: String
    public var createdBy: String
    /// Members when last computed (creation or `:refresh`); `GET /segments/{id}` answers the live count.
    public var memberCount: Int64
    public var refreshedAt: Date
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    /// Selected from `segments s`.
    static let columns = """
        s.id, s.name, s.kind, s.rule::text AS rule, s.org_id, s.org_path, s.created_by, s.member_count, s.refreshed_at,
        s.created_at, s.updated_at, s.version
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        let kindText: String = try row.decode("kind")
        guard let kind = SegmentKind(rawValue: kindText) else {
            throw APIError.internalError("segment \(id) has an unknown kind in the database")
        }
        self.kind = kind
        rule = try JSONCoding.decoder().decode(JSONValue.self, from: Data(try row.decode("rule", as: String.self).utf8))
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        createdBy = try row.decode("created_by")
        memberCount = try row.decode("member_count")
        refreshedAt = try row.decode("refreshed_at")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        version = try row.decode("version")
    }

    /// The stored rule, parsed (it was validated when saved).
    func parsedRule() throws -> Rule {
        do throws(RuleError) {
            return try Rule(json: rule)
        } catch {
            throw APIError.internalError("segment \(id) holds a rule that no longer parses: \(error)")
        }
    }
}

/// A segment with its live size, for `GET /segments/{id}` and the answers of creates and refreshes.
public struct SegmentWithCount: Sendable, Encodable {
    public var segment: SegmentDefinition
    /// Members now: a dynamic segment's from the index, a snapshot's frozen ones still in the index,
    /// both without the global blacklist.
    public var count: Int

    public func encode(to encoder: any Encoder) throws {
        try segment.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(count, forKey: .count)
    }

    enum Key: String, CodingKey { case count }
}
