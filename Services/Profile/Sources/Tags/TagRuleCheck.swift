import Contracts
import Foundation
import Postgres

/// Checks what a stored rule (a rule tag's, a lifecycle stage's) reads, beyond the rule language's own
/// validation: every attribute is a built-in `CustomerField`, `marketingOptOut` or in the
/// `AttributeCatalog`; every tag exists and is visible to the caller; the rule does not read its own tag
/// (directly or through other rule tags); and it uses only what the profile service can evaluate per
/// customer from its aggregates — no `segment` or `list` (the segment service owns those) and no event
/// `where` (aggregates keep counts per event name, not properties).
///
/// Faults are the rule language's 422 `rule_invalid` with the JSON path of the condition member to fix
/// (`$.rule.all[1].attr`).
struct TagRuleCheck {
    /// Custom attribute codes of the catalog.
    let catalogAttributes: Set<String>
    /// Tag codes visible to the caller → the tags each rule tag reads (empty for non-rule tags).
    let visibleTags: [String: Set<String>]
    /// The tag the rule belongs to.
    let owner: String

    /// Attributes a rule may read besides the catalog.
    static let builtInAttributes: Set<String> = Set(CustomerField.allCases.map(\.rawValue)).union(["marketingOptOut"])

    /// Loads the catalog and the tags visible to `caller` (with what their rules read).
    static func load(owner: String, caller: CallerIdentity, catalog: AttributeCatalog,
                     on conn: PostgresConnection) throws -> TagRuleCheck {
        let custom = Set(try catalog.customDefinitions(reload: false).keys)
        var tags: [String: Set<String>] = [:]
        for row in try conn.query("""
            SELECT d.code, d.rule::text AS rule FROM tag_definitions d
             WHERE starts_with(d.org_path, $1) OR (d.is_template AND starts_with($1, d.org_path))
            """, caller.orgPath) {
            let code: String = try row.decode("code")
            var reads: Set<String> = []
            if let text = try row.decode("rule", as: String?.self),
               let json = try? JSONCoding.decoder().decode(JSONValue.self, from: Data(text.utf8)),
               let rule = try? Rule(json: json) {
                reads = rule.inputs.tags
            }
            tags[code] = reads
        }
        // The lifecycle tag reads what its stages read.
        if tags[TagDefinition.lifecycleCode] != nil {
            var reads: Set<String> = []
            for stage in try LifecycleConfiguration.load(on: conn).stages {
                if let rule = stage.parsedRule { reads.formUnion(rule.inputs.tags) }
            }
            tags[TagDefinition.lifecycleCode] = reads
        }
        return TagRuleCheck(catalogAttributes: custom, visibleTags: tags, owner: owner)
    }

    /// Checks `rule`, found at `base` (`$.rule`) in the request document.
    func check(_ rule: Rule, base: String) throws(RuleError) {
        try walk(rule, path: base)
    }

    private func walk(_ rule: Rule, path: String) throws(RuleError) {
        switch rule {
        case .all(let items):
            for (i, item) in items.enumerated() { try walk(item, path: "\(path).all[\(i)]") }
        case .any(let items):
            for (i, item) in items.enumerated() { try walk(item, path: "\(path).any[\(i)]") }
        case .not(let inner):
            try walk(inner, path: path + ".not")
        case .attribute(let c):
            guard Self.builtInAttributes.contains(c.attribute) || catalogAttributes.contains(c.attribute) else {
                throw RuleError(path: path + ".attr", message: "unknown attribute \(c.attribute.prefix(64)): not built in and not in the attribute catalog")
            }
        case .tag(let c):
            guard c.tag != owner else {
                throw RuleError(path: path + ".tag", message: "a tag's rule must not read the tag itself")
            }
            guard visibleTags[c.tag] != nil else {
                throw RuleError(path: path + ".tag", message: "unknown tag \(c.tag.prefix(64))")
            }
            guard !reaches(owner, from: c.tag) else {
                throw RuleError(path: path + ".tag", message: "tag \(c.tag.prefix(64)) reads \(owner) through its rule: a cycle")
            }
        case .event(let c):
            if c.filter != nil {
                throw RuleError(path: path + ".where", message: "tag rules count events by name from the daily aggregates; where on event properties is not supported here")
            }
        case .segment:
            throw RuleError(path: path + ".segment", message: "tag rules cannot read segments (the segment service evaluates those)")
        case .list:
            throw RuleError(path: path + ".list", message: "tag rules cannot read lists (the segment service evaluates those)")
        }
    }

    /// Whether `start`'s rule reads `target`, directly or through other rule tags.
    private func reaches(_ target: String, from start: String) -> Bool {
        var seen: Set<String> = []
        var stack = [start]
        while let code = stack.popLast() {
            guard seen.insert(code).inserted, seen.count <= 10_000 else { continue }
            for next in visibleTags[code] ?? [] {
                if next == target { return true }
                stack.append(next)
            }
        }
        return false
    }
}
