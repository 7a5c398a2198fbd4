import Contracts
import Foundation
import Postgres
import ServiceKit

/// Org units, always seen through the caller's subtree: a unit outside it does not exist for the caller.
extension IdentityStore {
    /// The units of the caller's subtree in tree order (by path), a page at a time.
    public func listOrgs(caller: CallerIdentity, page: PageRequest) throws -> Page<OrgUnit> {
        let rows = try database.query("""
            SELECT \(OrgUnit.columns) FROM org_units
             WHERE starts_with(path, $1) AND ($2::text IS NULL OR path > $2)
             ORDER BY path LIMIT $3
            """, caller.orgPath, page.after, page.limit + 1)
        return PageRequest.page(try rows.map(OrgUnit.init(row:)), limit: page.limit, key: \.path)
    }

    /// The unit, or 404 `org_not_found` when it does not exist or is outside the caller's subtree.
    public func org(id: String, caller: CallerIdentity, field: String? = nil) throws -> OrgUnit {
        try visibleOrg(id: id, within: caller.orgPath, field: field, on: nil)
    }

    func visibleOrg(id: String, within scope: String, field: String?, on conn: PostgresConnection?) throws -> OrgUnit {
        let notFound = APIError(status: 404, code: "org_not_found", message: "no such org unit",
                                details: field.map { .object(["field": .string($0)]) })
        guard IdentityValidation.isOrgId(id) else { throw notFound }
        let sql = "SELECT \(OrgUnit.columns) FROM org_units WHERE id = $1 AND starts_with(path, $2)"
        let rows: PostgresRows
        if let conn { rows = try conn.query(sql, id, scope) } else { rows = try database.query(sql, id, scope) }
        guard let row = rows.first else { throw notFound }
        return try OrgUnit(row: row)
    }

    /// Creates a branch under the head office or a sub-branch under a branch of the caller's subtree.
    /// The id is the client's (it becomes part of every path below) or generated.
    public func createOrg(caller: CallerIdentity, input: CreateOrgInput) throws -> OrgUnit {
        let id = try input.id.map { try IdentityValidation.orgId($0, field: "id") } ?? IdentitySecrets.newId(prefix: "o")
        let name = try IdentityValidation.name(input.name)
        guard let kind = OrgUnit.Kind(rawValue: input.kind) else {
            throw IdentityValidation.invalid("kind", "one of head_office, branch, sub_branch")
        }
        guard let parentKind = kind.requiredParentKind else {
            throw IdentityValidation.invalid("kind", "there is one head office; create a branch or a sub_branch")
        }
        let parent = try org(id: input.parentId, caller: caller, field: "parentId")
        guard parent.kind == parentKind else {
            throw IdentityValidation.invalid("parentId", "a \(kind.rawValue)'s parent must be a \(parentKind.rawValue), not a \(parent.kind.rawValue)")
        }
        do {
            let rows = try database.query("""
                INSERT INTO org_units (id, parent_id, path, kind, name) VALUES ($1, $2, $3, $4, $5)
                RETURNING \(OrgUnit.columns)
                """, id, parent.id, parent.path + id + "/", kind.rawValue, name)
            guard let row = rows.first else { throw PostgresError.invalidState("insert returned no row") }
            return try OrgUnit(row: row)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw APIError(status: 409, code: "org_exists", message: "an org unit with this id exists",
                           details: .object(["field": .string("id")]))
        }
    }

    /// Every unit, in tree order: the internal directory other services cache.
    public func allOrgUnits(limit: Int) throws -> [OrgUnit] {
        try database.query("SELECT \(OrgUnit.columns) FROM org_units ORDER BY path LIMIT $1", limit).map(OrgUnit.init(row:))
    }

    /// Renames a unit of the caller's subtree. (Ids and parents are fixed: every record of every service
    /// carries the path built from them.)
    public func renameOrg(caller: CallerIdentity, id: String, name rawName: String) throws -> OrgUnit {
        let name = try IdentityValidation.name(rawName)
        let existing = try org(id: id, caller: caller)
        let rows = try database.query("UPDATE org_units SET name = $2 WHERE id = $1 RETURNING \(OrgUnit.columns)",
                                      existing.id, name)
        guard let row = rows.first else { throw APIError.notFound("no such org unit", code: "org_not_found") }
        return try OrgUnit(row: row)
    }
}

/// `POST /api/v1/orgs` body.
public struct CreateOrgInput: Sendable, Codable, Equatable {
    public var id: String?
    public var parentId: String
    public var kind: String
    public var name: String

    public init(id: String? = nil, parentId: String, kind: String, name: String) {
        self.id = id
        self.parentId = parentId
        self.kind = kind
        self.name = name
    }
}
