import Contracts
import Foundation
import HTTP
import Postgres

/// Replays create requests that carry an `Idempotency-Key` (DESIGN.md §3), per caller, for 24 hours.
///
/// The key is claimed before the work runs (a row without a status), so two concurrent requests with
/// one key cannot both create: the second answers 409 `idempotency_in_progress`. A claim whose request
/// failed is released, so the client may retry; a claim abandoned by a crash is taken over after
/// `claimTimeout` (a minute by default: longer where a create may rightly take longer, or a retry
/// would take over a claim still at work). The same key with a different request (method, path or body) is 422 `idempotency_key_reused`.
/// Only successful answers are stored, and the caller decides what is stored (a secret shown once is not).
///
/// Thread-safety: the only mutable state, `claims`, is guarded by `lock`.
public final class IdempotencyStore: @unchecked Sendable {
    public let database: PostgresPool
    private let lock = NSLock()
    private var claims = 0

    public static let header = "idempotency-key"

    /// Seconds after which an unfinished claim counts as abandoned.
    public let claimTimeout: Int

    public init(database: PostgresPool, claimTimeout: TimeInterval = 60) {
        self.database = database
        self.claimTimeout = max(1, Int(claimTimeout.rounded(.up)))
    }

    /// Runs `work` at most once per (caller, key). `work` returns the response and the body to store
    /// for replays. The table is `idempotency_keys` of the service's schema (`DataPlaneSchema`).
    public func run(callerId: String, request: Request, work: () throws -> (response: Response, stored: [UInt8])) throws -> Response {
        guard let raw = request.headers.first(Self.header) else { return try work().response }
        let key = try Self.validatedKey(raw)
        var hasher = SHA256()
        hasher.update(Array("\(request.method.rawValue) \(request.path)\n".utf8))
        hasher.update(Self.canonical(try request.collectBody()))
        let fingerprint = hasher.finalize().map { String(format: "%02x", $0) }.joined()

        let claimed = try database.query("""
            INSERT INTO idempotency_keys (caller_id, key, fingerprint) VALUES ($1, $2, $3)
            ON CONFLICT (caller_id, key) DO UPDATE
               SET fingerprint = EXCLUDED.fingerprint, status = NULL, body = NULL, created_at = now()
             WHERE idempotency_keys.created_at < now() - interval '24 hours'
                OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < now() - make_interval(secs => $4))
            RETURNING 1 AS claimed
            """, callerId, key, fingerprint, claimTimeout)
        if claimed.isEmpty { return try replay(callerId: callerId, key: key, fingerprint: fingerprint) }
        purgeExpiredSometimes()

        let result: (response: Response, stored: [UInt8])
        do {
            result = try work()
        } catch {
            release(callerId: callerId, key: key)
            throw error
        }
        guard (200..<300).contains(result.response.status) else {
            release(callerId: callerId, key: key)
            return result.response
        }
        try database.execute("UPDATE idempotency_keys SET status = $3, body = $4 WHERE caller_id = $1 AND key = $2",
                             callerId, key, result.response.status, Data(result.stored))
        return result.response
    }

    /// A create whose answer is simply its JSON (stored for replays as sent).
    public func create<T: Encodable>(callerId: String, request: Request, status: Int = 201, _ work: () throws -> T) throws -> Response {
        try run(callerId: callerId, request: request) {
            let response = try Response.json(try work(), status: status)
            return (response, response.body.bytes ?? [])
        }
    }

    /// 1 to 128 visible ASCII characters.
    public static func validatedKey(_ value: String) throws -> String {
        let u = value.utf8
        guard (1...128).contains(u.count), u.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 128 visible ASCII characters", field: "Idempotency-Key")
        }
        return value
    }

    /// The body with JSON object keys sorted, so that a client re-serializing the same document (keys in
    /// another order, other spacing) is recognised as the same request.
    static func canonical(_ body: [UInt8]) -> [UInt8] {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else { return body }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { Array($0) } ?? body
    }

    private func replay(callerId: String, key: String, fingerprint: String) throws -> Response {
        let rows = try database.query("SELECT fingerprint, status, body FROM idempotency_keys WHERE caller_id = $1 AND key = $2",
                                      callerId, key)
        guard let row = rows.first else {
            // Released between our claim attempt and this read: the client may simply retry.
            throw APIError(status: 409, code: "idempotency_in_progress",
                           message: "a request with this Idempotency-Key is in progress; retry shortly", retryAfterSeconds: 1)
        }
        guard try row.decode("fingerprint", as: String.self) == fingerprint else {
            throw APIError.unprocessable("this Idempotency-Key was used for a different request",
                                         code: "idempotency_key_reused",
                                         details: .object(["field": .string("Idempotency-Key")]))
        }
        guard let status = try row.decode("status", as: Int?.self), let body = try row.decode("body", as: Data?.self) else {
            throw APIError(status: 409, code: "idempotency_in_progress",
                           message: "a request with this Idempotency-Key is in progress; retry shortly", retryAfterSeconds: 1)
        }
        var headers: HTTPHeaders = ["content-type": "application/json"]
        headers.set("idempotent-replay", "true")
        return Response(status: status, headers: headers, body: .bytes(Array(body)))
    }

    private func release(callerId: String, key: String) {
        // Best effort: if this fails, the claim is taken over after `claimTimeout`.
        _ = try? database.execute("DELETE FROM idempotency_keys WHERE caller_id = $1 AND key = $2 AND status IS NULL",
                                  callerId, key)
    }

    /// Every 200th claim deletes expired rows, so the table stays about one day of creates.
    private func purgeExpiredSometimes() {
        lock.lock()
        claims += 1
        let due = claims % 200 == 0
        lock.unlock()
        if due { _ = try? database.execute("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'") }
    }
}
