import Contracts
import Foundation

/// A validated `POST /api/v1/segments` body `{name, rule, kind?}` (kind defaults to `dynamic`), or a
/// `PUT /api/v1/segments/{id}` body `{name?, rule?}`.
///
/// Shape faults are 400 naming the field; a malformed rule is 422 `rule_invalid` with its JSON path
/// (`$.rule.all[1].op`); names in the rule are checked against the catalogs later (`RuleNameCheck`).
struct SegmentInput: Sendable {
    var name: String?
    var kind: SegmentKind?
    var rule: Rule?
    var ruleJSON: JSONValue?

    static let createKeys: Set<String> = ["name", "rule", "kind"]
    static let updateKeys: Set<String> = ["name", "rule"]

    /// A create: every member but `kind` is required.
    static func create(_ body: [String: JSONValue]) throws -> SegmentInput {
        let input = try SegmentInput(body, allowed: createKeys)
        guard input.name != nil else { throw APIError.badRequest("name is required (1 to 100 characters)", field: "name") }
        guard input.rule != nil else { throw APIError.badRequest("rule is required (a rule-language condition)", field: "rule") }
        return input
    }

    /// An update: at least one of `name`, `rule`.
    static func update(_ body: [String: JSONValue]) throws -> SegmentInput {
        let input = try SegmentInput(body, allowed: updateKeys)
        guard input.name != nil || input.rule != nil else {
            throw APIError.badRequest("give name or rule to change", field: "$")
        }
        return input
    }

    private init(_ body: [String: JSONValue], allowed: Set<String>) throws {
        if let unknown = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        if let value = body["name"] {
            guard case .string(let name) = value, Self.isName(name) else {
                throw APIError.badRequest("name must be 1 to 100 characters without control characters", field: "name")
            }
            self.name = name
        }
        if let value = body["kind"] {
            guard case .string(let text) = value, let kind = SegmentKind(rawValue: text) else {
                throw APIError.badRequest("kind must be dynamic or snapshot", field: "kind")
            }
            self.kind = kind
        }
        if let value = body["rule"] {
            rule = try RuleFault.parse(value, base: "$.rule")
            ruleJSON = value
        }
    }

    static func isName(_ name: String) -> Bool {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        return (1...100).contains(name.count) && !trimmed.isEmpty
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

/// The rule faults of the segment API, as 422s whose details carry the JSON path both as `path` (the
/// rule language's convention) and as `field` (every other 4xx's).
enum RuleFault {
    /// Parses a rule found at `base` in the request document.
    static func parse(_ json: JSONValue, base: String) throws -> Rule {
        do throws(RuleError) {
            return try Rule(json: json, base: base)
        } catch {
            throw apiError(error)
        }
    }

    static func apiError(_ error: RuleError, code: String = "rule_invalid") -> APIError {
        .unprocessable("invalid rule at \(error.path): \(error.message)", code: code,
                       details: .object(["path": .string(error.path), "field": .string(error.path)]))
    }
}
