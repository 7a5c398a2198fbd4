import Foundation
import Postgres

/// A console user as the API shows it. The password hash never leaves the database.
public struct IdentityUser: Sendable, Equatable, Encodable {
    public var id: String
    public var username: String
    public var orgId: String
    public var orgPath: String
    public var roles: [String]
    /// Rights granted beyond the roles' (e.g. `pii`).
    public var rights: [String]
    /// What the user may do: the roles' rights plus `rights`.
    public var effectiveRights: [String]
    public var disabled: Bool
    /// Set while the account is locked after too many failed logins.
    public var lockedUntil: Date?
    public var createdAt: Date
    public var updatedAt: Date

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        username = try row.decode("username")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        roles = try row.decode("roles")
        rights = try row.decode("rights")
        effectiveRights = Set(AccessPolicy.rights(forRoles: roles)).union(rights).sorted()
        disabled = try row.decode("disabled")
        let locked: Date? = try row.decode("locked_until")
        lockedUntil = locked.flatMap { $0 > Date() ? $0 : nil }
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }

    /// Columns of `users u JOIN org_units o` that `init(row:)` reads.
    static let columns = """
        u.id, u.username, u.org_id, o.path AS org_path, u.roles, u.rights, u.disabled, u.locked_until, \
        u.created_at, u.updated_at
        """

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(username, forKey: .username)
        try c.encode(orgId, forKey: .orgId)
        try c.encode(orgPath, forKey: .orgPath)
        try c.encode(roles, forKey: .roles)
        try c.encode(rights, forKey: .rights)
        try c.encode(effectiveRights, forKey: .effectiveRights)
        try c.encode(disabled, forKey: .disabled)
        try c.encode(lockedUntil, forKey: .lockedUntil)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, username, orgId, orgPath, roles, rights, effectiveRights, disabled, lockedUntil, createdAt, updatedAt
    }
}

/// An API key as the API shows it; `key` (the secret) is set only in the answer that created it.
public struct APIKeyRecord: Sendable, Equatable, Encodable {
    public var id: String
    public var name: String
    public var orgId: String
    public var orgPath: String
    public var rights: [String]
    public var createdBy: String
    public var createdAt: Date
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    /// The secret, shown once.
    public var key: String?

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        rights = try row.decode("rights")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
        revokedAt = try row.decode("revoked_at")
        lastUsedAt = try row.decode("last_used_at")
        key = nil
    }

    static let columns = """
        k.id, k.name, k.org_id, o.path AS org_path, k.rights, k.created_by, k.created_at, k.revoked_at, k.last_used_at
        """

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(orgId, forKey: .orgId)
        try c.encode(orgPath, forKey: .orgPath)
        try c.encode(rights, forKey: .rights)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encodeIfPresent(key, forKey: .key)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, orgId, orgPath, rights, createdBy, createdAt, revokedAt, lastUsedAt, key
    }
}
