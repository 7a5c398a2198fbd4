import Contracts
import Foundation
import Postgres
import ServiceKit

/// Users, always seen through the caller's subtree: a user of another unit does not exist for the caller.
///
/// Rules of `updateUser` (so that a bank cannot lock itself out):
/// - a user can be moved only to a unit of the caller's subtree, and only a user of that subtree can be changed;
/// - nobody disables themselves;
/// - the head office always keeps at least one enabled admin: the last one cannot be disabled, lose the
///   `admin` role, or be moved out of the head office (422 `last_head_office_admin`).
/// A disabled user or a new password ends the user's sessions; any change drops its cached identity.
extension IdentityStore {
    public func listUsers(caller: CallerIdentity, page: PageRequest) throws -> Page<IdentityUser> {
        let rows = try database.query("""
            SELECT \(IdentityUser.columns) FROM users u JOIN org_units o ON o.id = u.org_id
             WHERE starts_with(o.path, $1) AND ($2::text IS NULL OR u.username > $2)
             ORDER BY u.username LIMIT $3
            """, caller.orgPath, page.after, page.limit + 1)
        return PageRequest.page(try rows.map(IdentityUser.init(row:)), limit: page.limit, key: \.username)
    }

    /// The user, or 404 `user_not_found` when it does not exist or is outside the caller's subtree.
    public func user(id: String, caller: CallerIdentity) throws -> IdentityUser {
        try visibleUser(id: id, within: caller.orgPath, on: nil, forUpdate: false)
    }

    private func visibleUser(id: String, within scope: String, on conn: PostgresConnection?, forUpdate: Bool) throws -> IdentityUser {
        guard IdentityValidation.isRecordId(id) else { throw Self.userNotFound }
        let sql = """
            SELECT \(IdentityUser.columns) FROM users u JOIN org_units o ON o.id = u.org_id
             WHERE u.id = $1 AND starts_with(o.path, $2)\(forUpdate ? " FOR UPDATE OF u" : "")
            """
        let rows: PostgresRows
        if let conn { rows = try conn.query(sql, id, scope) } else { rows = try database.query(sql, id, scope) }
        guard let row = rows.first else { throw Self.userNotFound }
        return try IdentityUser(row: row)
    }

    static let userNotFound = APIError.notFound("no such user", code: "user_not_found")

    public func createUser(caller: CallerIdentity, input: CreateUserInput) throws -> IdentityUser {
        let username = try IdentityValidation.username(input.username)
        let password = try IdentityValidation.password(input.password)
        let roles = try IdentityValidation.roles(input.roles)
        let rights = try IdentityValidation.rights(input.rights ?? [])
        let org = try org(id: input.orgId, caller: caller, field: "orgId")
        let id = IdentitySecrets.newId(prefix: "u")
        do {
            try database.execute("""
                INSERT INTO users (id, username, password_hash, org_id, roles, rights)
                VALUES ($1, $2, password_hash($3), $4, $5, $6)
                """, id, username, password, org.id, roles, rights)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw APIError(status: 409, code: "username_taken", message: "this username is taken",
                           details: .object(["field": .string("username")]))
        }
        return try user(id: id, caller: caller)
    }

    public func updateUser(caller: CallerIdentity, id: String, changes: UpdateUserInput) throws -> IdentityUser {
        let roles = try changes.roles.map { try IdentityValidation.roles($0) }
        let rights = try changes.rights.map { try IdentityValidation.rights($0) }
        let password = try changes.password.map { try IdentityValidation.password($0) }
        let newOrgId = try changes.orgId.map { try IdentityValidation.orgId($0) }
        let updated: IdentityUser = try database.transaction { conn in
            // Admin changes are serialized so that two concurrent demotions cannot both pass the
            // last-admin check below.
            _ = try conn.query("SELECT pg_advisory_xact_lock($1)", Self.userChangeLockKey)
            let before = try visibleUser(id: id, within: caller.orgPath, on: conn, forUpdate: true)
            var orgId = before.orgId
            if let newOrgId {
                orgId = try visibleOrg(id: newOrgId, within: caller.orgPath, field: "orgId", on: conn).id
            }
            let disabled = changes.disabled ?? before.disabled
            if disabled, !before.disabled, before.id == caller.userId {
                throw APIError.unprocessable("you cannot disable your own account", code: "cannot_disable_self",
                                             details: .object(["field": .string("disabled")]))
            }
            try conn.execute("""
                UPDATE users SET org_id = $2, roles = $3, rights = $4, disabled = $5,
                       password_hash = CASE WHEN $6::text IS NULL THEN password_hash ELSE password_hash($6) END,
                       failed_logins = CASE WHEN $6::text IS NULL THEN failed_logins ELSE 0 END,
                       locked_until = CASE WHEN $6::text IS NULL THEN locked_until END,
                       updated_at = now()
                 WHERE id = $1
                """, before.id, orgId, roles ?? before.roles, rights ?? before.rights, disabled, password)
            if before.roles.contains("admin"), !before.disabled {
                let remaining = try conn.query("""
                    SELECT count(*) AS n FROM users u JOIN org_units o ON o.id = u.org_id
                     WHERE o.kind = 'head_office' AND 'admin' = ANY (u.roles) AND NOT u.disabled
                    """)
                if try remaining.first?.decode("n", as: Int.self) == 0 {
                    throw APIError.unprocessable(
                        "the head office must keep at least one enabled admin", code: "last_head_office_admin")
                }
            }
            if (disabled && !before.disabled) || password != nil {
                try revokeSessions(userId: before.id, on: conn)
            }
            return try visibleUser(id: before.id, within: caller.orgPath, on: conn, forUpdate: false)
        }
        evictCached(userId: updated.id)
        return updated
    }

    /// Advisory-lock key serializing user changes (a fixed value, "LTIUCHG1" in ASCII).
    static let userChangeLockKey: Int64 = 0x4c54_4955_4348_4731
}

/// `POST /api/v1/users` body.
public struct CreateUserInput: Sendable, Codable, Equatable {
    public var username: String
    public var password: String
    public var orgId: String
    public var roles: [String]
    public var rights: [String]?

    public init(username: String, password: String, orgId: String, roles: [String], rights: [String]? = nil) {
        self.username = username
        self.password = password
        self.orgId = orgId
        self.roles = roles
        self.rights = rights
    }
}

/// `PATCH /api/v1/users/{id}` body: absent (or null) fields stay as they are.
public struct UpdateUserInput: Sendable, Codable, Equatable {
    public var roles: [String]?
    public var orgId: String?
    public var disabled: Bool?
    public var password: String?
    public var rights: [String]?

    public init(roles: [String]? = nil, orgId: String? = nil, disabled: Bool? = nil, password: String? = nil,
                rights: [String]? = nil) {
        self.roles = roles
        self.orgId = orgId
        self.disabled = disabled
        self.password = password
        self.rights = rights
    }
}
