import Contracts
import Foundation
import Postgres

/// How customers come to carry a tag (DESIGN.md §1 标签体系).
public enum TagKind: String, Sendable, Codable, CaseIterable {
    /// Members uploaded or set through `POST /api/v1/tags/{code}/members`.
    case manual
    /// A rule-language condition, kept current per customer by `RuleTagWorker`.
    case rule
    /// Model scores imported through the members endpoint and bucketed into values.
    case score
    /// Set by journeys (canvas) through the members endpoint.
    case activity

    /// Whether members are written through the members endpoint (not computed).
    var acceptsMembers: Bool { self != .rule }
}

/// One value of a score tag: scores `min <= score < max` get `value` (an absent bound is open).
public struct ScoreBucket: Sendable, Codable, Equatable {
    public var value: String
    public var min: Decimal?
    public var max: Decimal?

    public init(value: String, min: Decimal?, max: Decimal?) {
        self.value = value
        self.min = min
        self.max = max
    }

    func contains(_ score: Decimal) -> Bool {
        if let min, score < min { return false }
        if let max, score >= max { return false }
        return true
    }
}

/// A tag as the API shows it.
public struct TagDefinition: Sendable, Codable, Equatable {
    public var code: String
    public var name: String
    public var kind: TagKind
    /// The rule-language condition of a rule tag.
    public var rule: JSONValue?
    /// The values members may carry (nil: any value, or none).
    public var values: [String]?
    /// A score tag's buckets.
    public var buckets: [ScoreBucket]?
    public var description: String?
    /// The owning org unit (`system` for built-ins such as `lifecycle`).
    public var orgId: String
    public var orgPath: String
    /// Published to the units below the owner (readable and usable there).
    public var isTemplate: Bool
    /// Built in: `lifecycle`.
    public var builtIn: Bool
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    /// Selected from `tag_definitions d`.
    static let columns = """
        d.code, d.name, d.kind, d.rule::text AS rule, d.tag_values, d.buckets::text AS buckets, d.description,
        d.org_id, d.org_path, d.is_template, d.created_by, d.created_at, d.updated_at, d.version
        """

    /// The code of the built-in lifecycle tag.
    public static let lifecycleCode = "lifecycle"

    init(row: PostgresRow) throws {
        code = try row.decode("code")
        name = try row.decode("name")
        let kindText: String = try row.decode("kind")
        guard let kind = TagKind(rawValue: kindText) else {
            throw APIError.internalError("tag \(code) has an unknown kind in the database")
        }
        self.kind = kind
        let decoder = JSONCoding.decoder()
        rule = try row.decode("rule", as: String?.self).map { try decoder.decode(JSONValue.self, from: Data($0.utf8)) }
        values = try row.decode("tag_values", as: [String]?.self)
        buckets = try row.decode("buckets", as: String?.self).map { try decoder.decode([ScoreBucket].self, from: Data($0.utf8)) }
        description = try row.decode("description")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        isTemplate = try row.decode("is_template")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        version = try row.decode("version")
        builtIn = code == Self.lifecycleCode && orgId == "system"
    }

    /// The bucket value of `score`, or nil when no bucket holds it.
    func bucket(for score: Decimal) -> String? {
        buckets?.first { $0.contains(score) }?.value
    }
}
