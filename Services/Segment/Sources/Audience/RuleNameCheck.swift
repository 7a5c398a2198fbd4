import Contracts
import Foundation

/// Checks what a segment rule reads, beyond the rule language's own validation: every attribute is in
/// the profile's catalog, every tag is one the caller sees, every segment and list is one the caller
/// sees, and no event condition has a `where` (the index keeps per-event aggregates, not properties,
/// so such a rule cannot be answered). A fault is a 422 naming the JSON path of the member to fix
/// (`$.rule.all[1].tag`), with codes `rule_invalid` (unknown names) or `rule_unsupported` (`where`).
///
/// Attributes that identify a person (`personalAttributes`) are readable by a rule only with the
/// `pii` right — as the profile masks them — or counts and samples of `starts_with` tests would spell
/// out a phone number digit by digit (403 `pii_required`, naming the path).
struct RuleNameCheck {
    static let personalAttributes: Set<String> = ["name", "phone"]

    /// nil: not asked (the rule reads none).
    var attributes: Set<String>?
    var tags: Set<String>?
    var segments: Set<String> = []
    var lists: Set<String> = []
    var mayReadPersonal = false

    func check(_ rule: Rule, path: String) throws {
        switch rule {
        case .all(let items):
            for (i, item) in items.enumerated() { try check(item, path: "\(path).all[\(i)]") }
        case .any(let items):
            for (i, item) in items.enumerated() { try check(item, path: "\(path).any[\(i)]") }
        case .not(let inner):
            try check(inner, path: path + ".not")
        case .attribute(let c):
            if Self.personalAttributes.contains(c.attribute) && !mayReadPersonal {
                throw APIError(status: 403, code: "pii_required",
                               message: "\(c.attribute) identifies customers: rules may test it only with the pii right",
                               details: .object(["path": .string(path + ".attr"), "field": .string(path + ".attr")]))
            }
            if let attributes, !attributes.contains(c.attribute) {
                throw Self.fault(path + ".attr", "unknown attribute \(c.attribute.prefix(64)): not built in and not in the attribute catalog")
            }
        case .tag(let c):
            if let tags, !tags.contains(c.tag) {
                throw Self.fault(path + ".tag", "unknown tag \(c.tag.prefix(64))")
            }
        case .event(let c):
            if c.filter != nil {
                throw RuleFault.apiError(RuleError(path: path + ".where", message:
                    "segments count events from per-customer aggregates by event name; a where on event properties cannot be answered"),
                    code: "rule_unsupported")
            }
        case .segment(let id):
            if !segments.contains(id) { throw Self.fault(path + ".segment", "unknown segment \(id.prefix(64))") }
        case .list(let id):
            if !lists.contains(id) { throw Self.fault(path + ".list", "unknown list \(id.prefix(64))") }
        }
    }

    private static func fault(_ path: String, _ message: String) -> APIError {
        RuleFault.apiError(RuleError(path: path, message: message))
    }
}
