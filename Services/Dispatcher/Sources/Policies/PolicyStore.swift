import Contracts
import Foundation
import Postgres
import ServiceKit

/// The one policy document and the dispatcher's black list, with a short in-memory cache so that the
/// policy chain does not read them for every message.
///
/// Thread-safety: `lock` guards `cached`; a replica sees another's edit within `cacheTTL`.
public final class PolicyStore: @unchecked Sendable {
    let database: PostgresPool
    let cacheTTL: TimeInterval
    private let lock = NSLock()
    private var cached: (policy: SendPolicy, version: Int64, at: Date)?

    /// Ids a `PUT` may name as the black list (larger lists belong in the segment service, see README).
    static let maximumBlacklist = 10_000

    public init(database: PostgresPool, cacheTTL: TimeInterval = 1) {
        self.database = database
        self.cacheTTL = cacheTTL
    }

    /// The policy in force and its version (0: the defaults, never edited).
    func current() throws -> (policy: SendPolicy, version: Int64) {
        lock.lock()
        if let c = cached, Date().timeIntervalSince(c.at) < cacheTTL { lock.unlock(); return (c.policy, c.version) }
        lock.unlock()
        let loaded = try load()
        lock.lock()
        cached = (loaded.policy, loaded.version, Date())
        lock.unlock()
        return loaded
    }

    private func load() throws -> (policy: SendPolicy, version: Int64) {
        guard let row = try database.query("SELECT document::text AS document, version FROM policies WHERE id = 1").first else {
            return (SendPolicy.defaults, 0)
        }
        let text: String = try row.decode("document")
        do {
            return (try JSONCoding.decoder().decode(SendPolicy.self, from: Data(text.utf8)), try row.decode("version"))
        } catch {
            throw APIError.internalError("the stored policy document does not decode: \(error)")
        }
    }

    /// The document as `GET /api/v1/policies` answers it.
    func document() throws -> PolicyDocument {
        let (policy, version) = try current()
        let ids = try database.query("SELECT customer_id FROM blacklisted_customers ORDER BY customer_id")
            .map { try $0.decode("customer_id", as: String.self) }
        return PolicyDocument(policy: policy, version: version, blacklist: ids)
    }

    /// Replaces the policy (members absent from `body` keep their value) and, when given, the black list,
    /// in one transaction. `version` in the body, when given, must be the current one (409 otherwise).
    func update(body: JSONValue, caller: CallerIdentity) throws -> PolicyDocument {
        guard caller.orgPath.split(separator: "/").count == 1 else {
            throw APIError.forbidden("only head office sets the bank's send policies")
        }
        let fields = try BodyFields(body, allowed: ["quietHours", "quietHoursApplyToTransactional", "channelCaps", "overallCap", "campaignCap",
                                                    "bannedClaims", "smsSignature", "optOutInstructions", "riskWarnings", "optOutReplies",
                                                    "blacklist", "version"], field: "")
        let expected = try fields.int("version", in: 0...Int(Int32.max))
        let blacklist = try fields.stringArray("blacklist", maxItems: Self.maximumBlacklist, length: 1...64)
        try database.transaction { conn in
            // The row lock (or, before the first edit, the insert's conflict) serializes edits.
            let row = try conn.query("SELECT document::text AS document, version FROM policies WHERE id = 1 FOR UPDATE").first
            var base = SendPolicy.defaults, version: Int64 = 0
            if let row {
                base = try JSONCoding.decoder().decode(SendPolicy.self, from: Data(try row.decode("document", as: String.self).utf8))
                version = try row.decode("version")
            }
            if let expected, Int64(expected) != version {
                throw APIError.conflict("the policies changed meanwhile (version \(version)); read them again", code: "policy_version_conflict")
            }
            let policy = try SendPolicy.parse(body, over: base)
            let text = String(decoding: try JSONCoding.encoder().encode(policy), as: UTF8.self)
            let stored = try conn.execute("""
                INSERT INTO policies (id, document, version, updated_by) VALUES (1, $1::jsonb, 1, $2)
                ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document, version = policies.version + 1,
                                               updated_by = EXCLUDED.updated_by, updated_at = now()
                 WHERE policies.version = $3
                """, text, caller.userId, version)
            guard stored == 1 else { throw APIError.conflict("the policies changed meanwhile; read them again", code: "policy_version_conflict") }
            if let blacklist {
                try conn.execute("DELETE FROM blacklisted_customers WHERE NOT (customer_id = ANY($1::text[]))", blacklist)
                try conn.execute("INSERT INTO blacklisted_customers (customer_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", blacklist)
            }
        }
        lock.lock()
        cached = nil
        lock.unlock()
        return try document()
    }

    /// Of `ids`, those on the black list.
    func blacklisted(_ ids: [String], on conn: PostgresConnection) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return Set(try conn.query("SELECT customer_id FROM blacklisted_customers WHERE customer_id = ANY($1::text[])", ids)
            .map { try $0.decode("customer_id", as: String.self) })
    }
}

/// `GET|PUT /api/v1/policies` answers: the policy, its version, the black list.
struct PolicyDocument: Sendable, Encodable {
    var policy: SendPolicy
    var version: Int64
    var blacklist: [String]

    func encode(to encoder: any Encoder) throws {
        try policy.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(version, forKey: .version)
        try c.encode(blacklist, forKey: .blacklist)
    }

    enum Key: String, CodingKey { case version, blacklist }
}
