import Contracts
import Foundation

/// A validated `POST /api/v1/tags` body:
/// `{code, name, kind: manual|rule|score|activity, rule?, values?, buckets?, description?, isTemplate?}`.
///
/// Shape faults are 400 naming the field; a bad rule is 422 `rule_invalid` with its JSON path (checked
/// against the catalogs later by `TagRuleCheck`); a bad bucket set is 422 `buckets_invalid`.
struct NewTag: Sendable {
    var code: String
    var name: String
    var kind: TagKind
    var rule: Rule?
    var values: [String]?
    var buckets: [ScoreBucket]?
    var description: String?
    var isTemplate: Bool

    static let allowedKeys: Set<String> = ["code", "name", "kind", "rule", "values", "buckets", "description", "isTemplate"]
    static let maximumValues = 200
    static let maximumBuckets = 50

    /// `^[a-z][a-z0-9_]{0,63}$`, as the table's CHECK.
    static func isCode(_ code: String) -> Bool {
        guard let first = code.utf8.first, code.utf8.count <= 64, first >= 97, first <= 122 else { return false }
        return code.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    /// A tag value: 1…100 characters, no control characters.
    static func isValue(_ value: String) -> Bool {
        (1...100).contains(value.count) && !value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    init(body: [String: JSONValue]) throws {
        if let unknown = body.keys.sorted().first(where: { !Self.allowedKeys.contains($0) }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        guard case .string(let code)? = body["code"] else { throw APIError.badRequest("code is required (a string)", field: "code") }
        guard Self.isCode(code) else {
            throw APIError.badRequest("code must be a letter a-z followed by up to 63 of a-z, 0-9, _", field: "code")
        }
        guard case .string(let rawName)? = body["name"] else { throw APIError.badRequest("name is required (a string)", field: "name") }
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count) else { throw APIError.badRequest("name must be 1 to 100 characters", field: "name") }
        guard case .string(let kindText)? = body["kind"], let kind = TagKind(rawValue: kindText) else {
            throw APIError.badRequest("kind must be one of manual, rule, score, activity", field: "kind")
        }
        self.code = code
        self.name = name
        self.kind = kind

        switch body["rule"] {
        case nil, .null?:
            guard kind != .rule else { throw APIError.badRequest("a rule tag needs a rule", field: "rule") }
            rule = nil
        case let json?:
            guard kind == .rule else { throw APIError.badRequest("only rule tags take a rule", field: "rule") }
            do throws(RuleError) {
                rule = try Rule(json: json, base: "$.rule")
            } catch {
                throw error.apiError
            }
        }

        switch body["values"] {
        case nil, .null?:
            values = nil
        case .array(let items)?:
            guard kind != .score else { throw APIError.badRequest("a score tag's values are its buckets", field: "values") }
            guard kind != .rule else { throw APIError.badRequest("a rule tag carries no values", field: "values") }
            guard (1...Self.maximumValues).contains(items.count) else {
                throw APIError.badRequest("values takes 1 to \(Self.maximumValues) strings", field: "values")
            }
            var seen = Set<String>()
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let v) = item, Self.isValue(v) else {
                    throw APIError.badRequest("values[\(i)] must be a string of 1 to 100 characters", field: "values[\(i)]")
                }
                guard seen.insert(v).inserted else { throw APIError.badRequest("values[\(i)] repeats \(v)", field: "values[\(i)]") }
                out.append(v)
            }
            values = out
        default:
            throw APIError.badRequest("values must be an array of strings", field: "values")
        }

        switch body["buckets"] {
        case nil, .null?:
            guard kind != .score else { throw APIError.badRequest("a score tag needs buckets [{value, min, max}]", field: "buckets") }
            buckets = nil
        case .array(let items)?:
            guard kind == .score else { throw APIError.badRequest("only score tags take buckets", field: "buckets") }
            let parsed = try Self.parseBuckets(items)
            buckets = parsed
            values = parsed.map(\.value)
        default:
            throw APIError.badRequest("buckets must be an array of {value, min, max}", field: "buckets")
        }

        switch body["description"] {
        case nil, .null?: description = nil
        case .string(let d)? where d.count <= 1000: description = d
        default: throw APIError.badRequest("description must be a string of at most 1000 characters", field: "description")
        }
        switch body["isTemplate"] {
        case nil, .null?: isTemplate = false
        case .bool(let b)?: isTemplate = b
        default: throw APIError.badRequest("isTemplate must be a boolean", field: "isTemplate")
        }
    }

    /// Buckets: 1…50, distinct values, `min < max` when both are given, and no two overlapping — so a
    /// score falls in at most one bucket.
    static func parseBuckets(_ items: [JSONValue]) throws -> [ScoreBucket] {
        guard (1...maximumBuckets).contains(items.count) else {
            throw APIError.badRequest("buckets takes 1 to \(maximumBuckets) buckets", field: "buckets")
        }
        func bound(_ value: JSONValue?, _ field: String) throws -> Decimal? {
            switch value {
            case nil, .null?: return nil
            case .number(let n)? where n.isFinite && abs(n) < 1e15:
                return Decimal(string: "\(n)") ?? Decimal(n)
            default: throw APIError.badRequest("\(field) must be a number (or null for an open bound)", field: field)
            }
        }
        var out: [ScoreBucket] = []
        var seen = Set<String>()
        for (i, item) in items.enumerated() {
            let field = "buckets[\(i)]"
            guard case .object(let object) = item else { throw APIError.badRequest("\(field) must be {value, min, max}", field: field) }
            if let unknown = object.keys.sorted().first(where: { !["value", "min", "max"].contains($0) }) {
                throw APIError.badRequest("unknown member \(unknown.prefix(64)) in \(field)", field: field)
            }
            guard case .string(let value)? = object["value"], isValue(value) else {
                throw APIError.badRequest("\(field).value must be a string of 1 to 100 characters", field: "\(field).value")
            }
            guard seen.insert(value).inserted else { throw APIError.badRequest("\(field).value repeats \(value)", field: "\(field).value") }
            let min = try bound(object["min"], "\(field).min"), max = try bound(object["max"], "\(field).max")
            if let min, let max, min >= max {
                throw APIError.unprocessable("\(field): min must be below max", code: "buckets_invalid",
                                             details: .object(["field": .string("\(field).min")]))
            }
            out.append(ScoreBucket(value: value, min: min, max: max))
        }
        // Overlap: sort by lower bound (open = -inf) and require each to end by the next's start.
        let sorted = out.enumerated().sorted { ($0.element.min ?? -Decimal.greatestFiniteMagnitude) < ($1.element.min ?? -Decimal.greatestFiniteMagnitude) }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            guard let end = a.element.max, let start = b.element.min, end <= start else {
                throw APIError.unprocessable("buckets[\(a.offset)] and buckets[\(b.offset)] overlap", code: "buckets_invalid",
                                             details: .object(["field": .string("buckets[\(b.offset)]")]))
            }
        }
        return out
    }
}
