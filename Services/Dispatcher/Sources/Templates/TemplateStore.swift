import Contracts
import Foundation
import Postgres
import ServiceKit

/// Templates through the caller's org scope: a unit sees its subtree's templates and those of its
/// ancestors (published by head office or a branch for the units below), and changes only its subtree's.
public struct TemplateStore: Sendable {
    let database: PostgresPool
    let policies: PolicyStore

    public init(database: PostgresPool, policies: PolicyStore) {
        self.database = database
        self.policies = policies
    }

    static let notFound = APIError.notFound("no such template", code: "template_not_found")

    /// Visible to the caller: in its subtree, or owned by one of its ancestors.
    static let visible = "(starts_with(t.org_path, $2) OR starts_with($2, t.org_path))"

    func create(_ input: TemplateInput, caller: CallerIdentity) throws -> Template {
        try ComplianceReview.check(input, policy: try policies.current().policy)
        let rows = try database.query("""
            INSERT INTO templates AS t (id, channel, name, title, body, kind, product_risk_level, investment, variables, status, org_id,
                                        org_path, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12) RETURNING \(Template.columns)
            """, RecordId.make("tpl_"), input.channel.rawValue, input.name, input.title, input.body, input.kind.rawValue,
            input.productRiskLevel?.rawValue, input.investment, try TemplateText.variables(in: input.body), caller.orgId,
            caller.orgPath, caller.userId)
        return try Template(row: rows[0])
    }

    func template(id: String, caller: CallerIdentity) throws -> Template {
        guard RecordId.isValid(id, prefix: "tpl_") else { throw Self.notFound }
        guard let row = try database.query("SELECT \(Template.columns) FROM templates t WHERE t.id = $1 AND \(Self.visible)",
                                           id, caller.orgPath).first else { throw Self.notFound }
        return try Template(row: row)
    }

    func templates(caller: CallerIdentity, page: PageRequest) throws -> Page<Template> {
        let rows = try database.query("""
            SELECT \(Template.columns) FROM templates t
             WHERE \(Self.visible) AND ($1::text IS NULL OR t.id > $1) ORDER BY t.id LIMIT $3
            """, page.after, caller.orgPath, page.limit + 1)
        return PageRequest.page(try rows.map { try Template(row: $0) }, limit: page.limit, key: \.id)
    }

    /// An edit is reviewed again and needs a new approval.
    func update(id: String, body: JSONValue, caller: CallerIdentity) throws -> Template {
        let current = try template(id: id, caller: caller)
        guard caller.covers(orgPath: current.orgPath) else { throw APIError.forbidden("the template belongs to a unit above yours") }
        let input = try TemplateInput(body: body, over: current)
        try ComplianceReview.check(input, policy: try policies.current().policy)
        let expected = try BodyFields(body, allowed: TemplateInput.allowed, field: "").int("version", in: 1...Int(Int32.max)).map(Int64.init)
        let rows = try database.query("""
            UPDATE templates AS t SET name = $3, title = $4, body = $5, kind = $6, product_risk_level = $7, investment = $8, variables = $9,
                   status = 'pending', approved_by = NULL, approved_at = NULL, updated_at = now(), version = t.version + 1
             WHERE t.id = $1 AND t.version = $2 RETURNING \(Template.columns)
            """, id, expected ?? current.version, input.name, input.title, input.body, input.kind.rawValue, input.productRiskLevel?.rawValue,
            input.investment, try TemplateText.variables(in: input.body))
        guard let row = rows.first else { throw APIError.conflict("the template changed meanwhile; read it again", code: "template_version_conflict") }
        return try Template(row: row)
    }

    /// Approval by someone else than its author (four eyes), in the template's subtree.
    func approve(id: String, caller: CallerIdentity) throws -> Template {
        let current = try template(id: id, caller: caller)
        guard caller.covers(orgPath: current.orgPath) else { throw APIError.forbidden("the template belongs to a unit above yours") }
        guard current.createdBy != caller.userId else {
            throw APIError.unprocessable("a template is approved by someone other than its author", code: "template_self_approval")
        }
        // The review again: the word lists may have grown since the template was written.
        try ComplianceReview.check(try TemplateInput(body: .object([:]), over: current), policy: try policies.current().policy)
        let rows = try database.query("""
            UPDATE templates AS t SET status = 'approved', approved_by = $2, approved_at = now(), updated_at = now()
             WHERE t.id = $1 AND t.version = $3 RETURNING \(Template.columns)
            """, id, caller.userId, current.version)
        guard let row = rows.first else { throw APIError.conflict("the template changed meanwhile; read it again", code: "template_version_conflict") }
        return try Template(row: row)
    }

    /// Approved templates of `ids` visible to the caller, by id.
    func usable(_ ids: Set<String>, caller: CallerIdentity) throws -> [String: Template] {
        let valid = ids.filter { RecordId.isValid($0, prefix: "tpl_") }
        guard !valid.isEmpty else { return [:] }
        var out: [String: Template] = [:]
        for row in try database.query("SELECT \(Template.columns) FROM templates t WHERE t.id = ANY($1::text[]) AND \(Self.visible)",
                                      Array(valid), caller.orgPath) {
            let t = try Template(row: row)
            out[t.id] = t
        }
        return out
    }
}
