import Contracts
import Foundation
import Postgres
import ServiceKit

/// Tag definitions and hand-set membership, through the caller's org scope:
///
/// - a definition belongs to the unit that created it; a caller sees the tags of its subtree plus the
///   templates (`isTemplate`) of its ancestor units (and the built-in `lifecycle`); any other tag does
///   not exist for it (404);
/// - membership changes only for customers in the caller's subtree; others are reported, never applied.
///
/// Codes are unique bank-wide (rules and segments name tags by code), so a code taken by another
/// branch is a 409 as well.
public struct TagStore: Sendable {
    let database: PostgresPool
    let catalog: AttributeCatalog

    public init(database: PostgresPool, catalog: AttributeCatalog) {
        self.database = database
        self.catalog = catalog
    }

    static let notFound = APIError.notFound("no such tag", code: "tag_not_found")
    /// Visibility of `tag_definitions d` for the caller path in `$1`.
    static let visible = "(starts_with(d.org_path, $1) OR (d.is_template AND starts_with($1, d.org_path)))"

    public func create(body: [String: JSONValue], caller: CallerIdentity) throws -> TagDefinition {
        let tag = try NewTag(body: body)
        let encoder = JSONCoding.encoder()
        return try database.transaction { conn in
            if let rule = tag.rule {
                let check = try TagRuleCheck.load(owner: tag.code, caller: caller, catalog: catalog, on: conn)
                do throws(RuleError) {
                    try check.check(rule, base: "$.rule")
                } catch {
                    throw error.apiError
                }
            }
            let ruleText = try tag.rule.map { String(decoding: try encoder.encode($0.json), as: UTF8.self) }
            let bucketsText = try tag.buckets.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            let rows = try conn.query("""
                    INSERT INTO tag_definitions AS d (code, name, kind, rule, tag_values, buckets, description, org_id, org_path,
                                                      is_template, created_by)
                    VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9, $10, $11)
                    ON CONFLICT (code) DO NOTHING
                    RETURNING \(TagDefinition.columns)
                    """, tag.code, tag.name, tag.kind.rawValue, ruleText, tag.values, bucketsText, tag.description,
                    caller.orgId, caller.orgPath, tag.isTemplate, caller.userId)
            guard let row = rows.first else { throw APIError.conflict("tag \(tag.code) exists", code: "tag_exists") }
            // Existing customers must be evaluated against a new rule without waiting for them to change.
            if tag.kind == .rule { try RuleTagSweep.requestFull(on: conn) }
            return try TagDefinition(row: row)
        }
    }

    public func tag(code: String, caller: CallerIdentity) throws -> TagDefinition {
        guard NewTag.isCode(code) else { throw Self.notFound }
        let rows = try database.query("SELECT \(TagDefinition.columns) FROM tag_definitions d WHERE \(Self.visible) AND d.code = $2",
                                      caller.orgPath, code)
        guard let row = rows.first else { throw Self.notFound }
        return try TagDefinition(row: row)
    }

    /// The caller's visible tags in code order, optionally of one kind.
    public func list(caller: CallerIdentity, kind: TagKind?, page: PageRequest) throws -> Page<TagDefinition> {
        let rows = try database.query("""
            SELECT \(TagDefinition.columns) FROM tag_definitions d
             WHERE \(Self.visible) AND ($2::text IS NULL OR d.code > $2) AND ($3::text IS NULL OR d.kind = $3)
             ORDER BY d.code LIMIT $4
            """, caller.orgPath, page.after, kind?.rawValue, page.limit + 1)
        return PageRequest.page(try rows.map { try TagDefinition(row: $0) }, limit: page.limit, key: \.code)
    }

    /// Applies a membership change to the customers of the caller's subtree; the rest are rejected.
    public func changeMembers(code: String, body: [String: JSONValue], caller: CallerIdentity) throws -> TagMembershipResult {
        let tag = try self.tag(code: code, caller: caller)
        guard tag.kind.acceptsMembers else {
            throw APIError.unprocessable("\(code) is a rule tag: its members follow its rule", code: "tag_not_writable")
        }
        let change = try TagMembershipChange(body: body)
        var rejected: [TagMembershipResult.Rejection] = []
        // (customer, value, score) to write; ids to remove.
        var writes: [(id: String, value: String, score: Decimal?)] = []
        var removals: [String] = []
        switch change.operation {
        case .add(let ids, let value):
            guard tag.kind != .score else {
                throw APIError.badRequest("a score tag takes scores [{customerId, score}]", field: "scores")
            }
            if let values = tag.values, !values.contains(value) {
                throw APIError.unprocessable("value must be one of \(values.joined(separator: ", ").prefix(300))",
                                             code: "tag_value_invalid", details: .object(["field": "value"]))
            }
            writes = ids.map { ($0, value, nil) }
        case .remove(let ids):
            removals = ids
        case .scores(let scores):
            guard tag.kind == .score else {
                throw APIError.badRequest("only score tags take scores", field: "scores")
            }
            for (id, score) in scores {
                if let value = tag.bucket(for: score) {
                    writes.append((id, value, score))
                } else {
                    rejected.append(.init(customerId: id, reason: "score_out_of_buckets"))
                }
            }
        }
        let named = writes.map(\.id) + removals
        return try database.transaction { conn in
            var inScope = Set<String>()
            for row in try conn.query("SELECT id FROM customers WHERE id = ANY($1::text[]) AND starts_with(org_path, $2)",
                                      named, caller.orgPath) {
                inScope.insert(try row.decode("id"))
            }
            for id in named where !inScope.contains(id) { rejected.append(.init(customerId: id, reason: "customer_not_found")) }
            let kept = writes.filter { inScope.contains($0.id) }
            let removing = removals.filter { inScope.contains($0) }
            var applied = 0
            if !kept.isEmpty {
                // Only a real change is written: an unchanged row would enter the change feed for nothing.
                applied += try conn.execute("""
                    INSERT INTO customer_tags AS t (customer_id, tag_code, value, score, source, set_at)
                    SELECT i.customer_id, $4, i.value, i.score, $5, now()
                      FROM unnest($1::text[], $2::text[], $3::numeric[]) AS i(customer_id, value, score)
                     ORDER BY 1
                    ON CONFLICT (customer_id, tag_code) DO UPDATE SET value = EXCLUDED.value, score = EXCLUDED.score,
                                                                      source = EXCLUDED.source, set_at = now()
                     WHERE t.value IS DISTINCT FROM EXCLUDED.value OR t.score IS DISTINCT FROM EXCLUDED.score
                    """, kept.map(\.id), kept.map(\.value), kept.map(\.score),
                    code, "api:" + String(caller.userId.prefix(90)))
            }
            if !removing.isEmpty {
                applied += try conn.execute("DELETE FROM customer_tags WHERE tag_code = $1 AND customer_id = ANY($2::text[])",
                                            code, removing)
            }
            return TagMembershipResult(tag: code, applied: applied, unchanged: kept.count + removing.count - applied,
                                       rejected: rejected)
        }
    }
}
