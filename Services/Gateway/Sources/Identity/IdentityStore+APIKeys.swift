import Contracts
import Foundation
import Postgres
import ServiceKit

/// API keys: machine credentials of the bank's systems, each scoped to an org unit and a set of rights.
/// A key outside the caller's subtree does not exist for the caller. Keys belong to their unit, not to
/// the person who created them: they keep working when that person leaves, until revoked.
extension IdentityStore {
    public func listAPIKeys(caller: CallerIdentity, page: PageRequest) throws -> Page<APIKeyRecord> {
        let rows = try database.query("""
            SELECT \(APIKeyRecord.columns) FROM api_keys k JOIN org_units o ON o.id = k.org_id
             WHERE starts_with(o.path, $1) AND ($2::text IS NULL OR k.id > $2)
             ORDER BY k.id LIMIT $3
            """, caller.orgPath, page.after, page.limit + 1)
        return PageRequest.page(try rows.map(APIKeyRecord.init(row:)), limit: page.limit, key: \.id)
    }

    /// The key's record (never its secret), or 404 `api_key_not_found`.
    public func apiKey(id: String, caller: CallerIdentity) throws -> APIKeyRecord {
        guard IdentityValidation.isRecordId(id) else { throw Self.apiKeyNotFound }
        let rows = try database.query("""
            SELECT \(APIKeyRecord.columns) FROM api_keys k JOIN org_units o ON o.id = k.org_id
             WHERE k.id = $1 AND starts_with(o.path, $2)
            """, id, caller.orgPath)
        guard let row = rows.first else { throw Self.apiKeyNotFound }
        return try APIKeyRecord(row: row)
    }

    static let apiKeyNotFound = APIError.notFound("no such API key", code: "api_key_not_found")

    /// Creates a key; the returned record carries the secret `key`, which is never shown again.
    public func createAPIKey(caller: CallerIdentity, input: CreateAPIKeyInput) throws -> APIKeyRecord {
        let name = try IdentityValidation.name(input.name)
        let rights = try IdentityValidation.rights(input.rights, allowEmpty: false)
        let org = try org(id: input.orgId, caller: caller, field: "orgId")
        let id = IdentitySecrets.newId(prefix: "key")
        let secret = IdentitySecrets.newAPIKey()
        try database.execute("""
            INSERT INTO api_keys (id, name, key_hash, org_id, rights, created_by) VALUES ($1, $2, $3, $4, $5, $6)
            """, id, name, IdentitySecrets.tokenHash(secret), org.id, rights, caller.userId)
        var record = try apiKey(id: id, caller: caller)
        record.key = secret
        return record
    }

    /// Revokes a key at once (this replica at once; others within the cache TTL). Revoking a revoked
    /// key is a no-op answering the record.
    public func revokeAPIKey(caller: CallerIdentity, id: String) throws -> APIKeyRecord {
        let existing = try apiKey(id: id, caller: caller)
        try database.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", existing.id)
        evictCached(apiKeyId: existing.id)
        return try apiKey(id: id, caller: caller)
    }

    /// `GET /api/v1/me`: the signed-in user, or the API key calling.
    public func describe(caller identity: CallerIdentity) throws -> MeResponse {
        let rows = try database.query("SELECT username FROM users WHERE id = $1", identity.userId)
        if let row = rows.first {
            return MeResponse(id: identity.userId, username: try row.decode("username"), kind: "user",
                              orgId: identity.orgId, orgPath: identity.orgPath, roles: identity.roles, rights: identity.rights)
        }
        let keys = try database.query("SELECT name FROM api_keys WHERE id = $1", identity.userId)
        return MeResponse(id: identity.userId, username: try keys.first?.decode("name", as: String.self), kind: "api_key",
                          orgId: identity.orgId, orgPath: identity.orgPath, roles: identity.roles, rights: identity.rights)
    }
}

/// `GET /api/v1/me`.
public struct MeResponse: Sendable, Encodable, Equatable {
    public var id: String
    /// The username, or the API key's name.
    public var username: String?
    /// `user` or `api_key`.
    public var kind: String
    public var orgId: String
    public var orgPath: String
    public var roles: [String]
    public var rights: [String]
}

/// `POST /api/v1/api-keys` body.
public struct CreateAPIKeyInput: Sendable, Codable, Equatable {
    public var name: String
    public var orgId: String
    public var rights: [String]

    public init(name: String, orgId: String, rights: [String]) {
        self.name = name
        self.orgId = orgId
        self.rights = rights
    }
}
