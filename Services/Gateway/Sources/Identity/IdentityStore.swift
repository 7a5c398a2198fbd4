import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The gateway's identity domain on its `identity` schema: login and sessions, API keys, users and
/// org units. It is the gateway's `CallerAuthenticator`.
///
/// Secrets: passwords are hashed by PostgreSQL (bcrypt, see migration 001) and never logged nor kept;
/// tokens are 256 random bits of which only the SHA-256 is stored.
///
/// Thread-safety: immutable configuration plus `SessionCache`, `RateLimiter` and `dummyHash`, each
/// guarded by its own lock; database work uses the pool's connections one caller at a time.
public final class IdentityStore: CallerAuthenticator, @unchecked Sendable {
    public let database: PostgresPool
    /// A session unused this long expires; a session ends this long after login in any case.
    public let sessionIdleTimeout: TimeInterval
    public let sessionLifetime: TimeInterval
    /// How long a validated token is trusted from memory.
    public let sessionCacheTTL: TimeInterval
    public let loginFailureLimit: Int
    public let loginLockDuration: TimeInterval

    let cache: SessionCache
    let loginLimiter: RateLimiter
    let idempotency: IdempotencyStore
    /// `last_seen_at` / `last_used_at` are written at most this often per credential (at most once a
    /// minute, and often enough that an active session never reaches the idle timeout).
    let touchInterval: TimeInterval

    private let dummyLock = NSLock()
    private var dummyHash: String?

    /// - Parameters:
    ///   - database: a pool whose search_path is the identity schema.
    ///   - settings: sessions, login throttling; `loginAttemptsPerMinutePerIP` sizes the per-IP login limit.
    public init(database: PostgresPool, settings: GatewaySettings, cacheCapacity: Int = 50_000) {
        self.database = database
        sessionIdleTimeout = settings.sessionIdleTimeout
        sessionLifetime = settings.sessionLifetime
        sessionCacheTTL = settings.sessionCacheTTL
        loginFailureLimit = max(1, settings.loginFailureLimit)
        loginLockDuration = settings.loginLockDuration
        cache = SessionCache(capacity: cacheCapacity)
        let perMinute = max(1, settings.loginAttemptsPerMinutePerIP)
        loginLimiter = RateLimiter(ratePerSecond: Double(perMinute) / 60, burst: perMinute)
        idempotency = IdempotencyStore(database: database)
        touchInterval = max(1, min(60, settings.sessionIdleTimeout / 4))
    }

    // MARK: Authentication

    public func cachedCaller(bearerToken token: String) -> AuthenticatedCaller? {
        guard token.utf8.count == 47,
              token.hasPrefix(IdentitySecrets.sessionPrefix) || token.hasPrefix(IdentitySecrets.apiKeyPrefix) else { return nil }
        return cache.lookup(IdentitySecrets.tokenHash(token))
    }

    public func authenticate(bearerToken token: String) throws -> AuthenticatedCaller? {
        // 4-character prefix + 43 base64url characters; anything else was never issued.
        guard token.utf8.count == 47 else { return nil }
        let isSession = token.hasPrefix(IdentitySecrets.sessionPrefix)
        guard isSession || token.hasPrefix(IdentitySecrets.apiKeyPrefix) else { return nil }
        let hash = IdentitySecrets.tokenHash(token)
        if let cached = cache.lookup(hash) { return cached }
        let found = isSession ? try sessionCaller(tokenHash: hash) : try apiKeyCaller(keyHash: hash)
        guard let (caller, remaining) = found else { return nil }
        cache.store(caller, for: hash, ttl: min(sessionCacheTTL, remaining))
        return caller
    }

    private func sessionCaller(tokenHash: String) throws -> (AuthenticatedCaller, TimeInterval)? {
        let rows = try database.query("""
            SELECT s.id AS session_id, u.id, u.username, u.org_id, o.path AS org_path, u.roles, u.rights,
                   extract(epoch FROM s.expires_at - now())::float8 AS remaining,
                   (s.last_seen_at < now() - make_interval(secs => $3)) AS stale
              FROM sessions s
              JOIN users u ON u.id = s.user_id
              JOIN org_units o ON o.id = u.org_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND NOT u.disabled
               AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2)
            """, tokenHash, sessionIdleTimeout, touchInterval)
        guard let row = rows.first else { return nil }
        let sessionId: String = try row.decode("session_id")
        let roles: [String] = try row.decode("roles")
        let extra: [String] = try row.decode("rights")
        let identity = CallerIdentity(userId: try row.decode("id"), orgId: try row.decode("org_id"),
                                      orgPath: try row.decode("org_path"), roles: roles,
                                      rights: Self.effectiveRights(roles: roles, extra: extra))
        if try row.decode("stale", as: Bool.self) {
            try database.execute("""
                UPDATE sessions SET last_seen_at = now()
                 WHERE id = $1 AND last_seen_at < now() - make_interval(secs => $2)
                """, sessionId, touchInterval)
        }
        let caller = AuthenticatedCaller(identity: identity, username: try row.decode("username"),
                                         credential: .session(id: sessionId))
        return (caller, try row.decode("remaining"))
    }

    private func apiKeyCaller(keyHash: String) throws -> (AuthenticatedCaller, TimeInterval)? {
        let rows = try database.query("""
            SELECT k.id, k.name, k.org_id, o.path AS org_path, k.rights,
                   (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $2)) AS stale
              FROM api_keys k JOIN org_units o ON o.id = k.org_id
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL
            """, keyHash, touchInterval)
        guard let row = rows.first else { return nil }
        let id: String = try row.decode("id")
        let name: String = try row.decode("name")
        let identity = CallerIdentity(userId: id, orgId: try row.decode("org_id"), orgPath: try row.decode("org_path"),
                                      roles: [], rights: try row.decode("rights"))
        if try row.decode("stale", as: Bool.self) {
            try database.execute("""
                UPDATE api_keys SET last_used_at = now()
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
                """, id, touchInterval)
        }
        return (AuthenticatedCaller(identity: identity, username: "api-key:" + name, credential: .apiKey(id: id)),
                .infinity)
    }

    static func effectiveRights(roles: [String], extra: [String]) -> [String] {
        Set(AccessPolicy.rights(forRoles: roles)).union(extra).sorted()
    }

    // MARK: Login and logout

    /// Signs a user in: a new session token, or
    /// - 429 `login_rate_limited` when this client IP tried too often,
    /// - 401 `invalid_credentials` for an unknown user or a wrong password (same answer, similar time),
    /// - 429 `account_locked` with Retry-After once `loginFailureLimit` consecutive failures locked the user,
    /// - 403 `account_disabled` for a disabled user who gave the right password.
    public func login(username rawUsername: String, password: String, remoteAddress: String?) throws -> LoginResult {
        if case .limited(let retry) = loginLimiter.acquire(remoteAddress ?? "unknown") {
            throw APIError(status: 429, code: "login_rate_limited",
                           message: "too many login attempts from this address; try again later",
                           retryAfterSeconds: retry)
        }
        let username = rawUsername.lowercased()
        guard IdentityValidation.isUsername(username), IdentityValidation.isHashable(password) else {
            try burnPasswordCheck()
            throw Self.invalidCredentials
        }
        let rows = try database.query("""
            SELECT u.id, u.username, u.org_id, o.path AS org_path, u.roles, u.rights, u.disabled,
                   password_matches($2, u.password_hash) AS matches,
                   CASE WHEN u.locked_until > now()
                        THEN ceil(extract(epoch FROM u.locked_until - now()))::bigint END AS locked_for
              FROM users u JOIN org_units o ON o.id = u.org_id
             WHERE u.username = $1
            """, username, password)
        guard let row = rows.first else {
            try burnPasswordCheck()
            throw Self.invalidCredentials
        }
        let userId: String = try row.decode("id")
        // While locked, the answer is the same whatever the password, so guessing gains nothing.
        if let lockedFor = try row.decode("locked_for", as: Int?.self) {
            throw Self.accountLocked(retryAfter: lockedFor)
        }
        guard try row.decode("matches", as: Bool.self) else {
            try recordFailedLogin(userId: userId)
            throw Self.invalidCredentials
        }
        guard !(try row.decode("disabled", as: Bool.self)) else {
            throw APIError(status: 403, code: "account_disabled", message: "this account is disabled; ask an administrator")
        }
        let token = IdentitySecrets.newSessionToken()
        let sessionId = IdentitySecrets.newId(prefix: "ses")
        let expiresAt: Date = try database.transaction { conn in
            try conn.execute("""
                UPDATE users SET failed_logins = 0, locked_until = NULL
                 WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)
                """, userId)
            // Housekeeping: this user's sessions that ended over a day ago (the audit log keeps the logins).
            try conn.execute("""
                DELETE FROM sessions WHERE user_id = $1
                   AND (expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day')
                """, userId)
            let inserted = try conn.query("""
                INSERT INTO sessions (id, token_hash, user_id, expires_at)
                VALUES ($1, $2, $3, now() + make_interval(secs => $4))
                RETURNING expires_at
                """, sessionId, IdentitySecrets.tokenHash(token), userId, sessionLifetime)
            guard let expires = inserted.first else { throw PostgresError.invalidState("session insert returned no row") }
            return try expires.decode("expires_at")
        }
        let roles: [String] = try row.decode("roles")
        let user = LoginResult.User(id: userId, username: try row.decode("username"), orgId: try row.decode("org_id"),
                                    orgPath: try row.decode("org_path"), roles: roles,
                                    rights: Self.effectiveRights(roles: roles, extra: try row.decode("rights")))
        return LoginResult(token: token, expiresAt: expiresAt, user: user)
    }

    /// Counts a failed login; the failure that reaches the limit locks the user (answered as locked).
    /// A lock that has run out starts a fresh count.
    private func recordFailedLogin(userId: String) throws {
        let rows = try database.query("""
            UPDATE users SET
                failed_logins = CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN (CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END) >= $2
                                    THEN now() + make_interval(secs => $3) END
             WHERE id = $1
            RETURNING locked_until IS NOT NULL AS locked
            """, userId, loginFailureLimit, loginLockDuration)
        if try rows.first?.decode("locked", as: Bool.self) == true {
            throw Self.accountLocked(retryAfter: Int(loginLockDuration.rounded(.up)))
        }
    }

    /// Spends about the time of a real password check, so that an unknown user is not told apart by timing.
    private func burnPasswordCheck() throws {
        let hash = try dummyPasswordHash()
        _ = try database.query("SELECT password_matches($1, $2) AS matches", "not-the-password", hash)
    }

    private func dummyPasswordHash() throws -> String {
        dummyLock.lock()
        let known = dummyHash
        dummyLock.unlock()
        if let known { return known }
        let rows = try database.query("SELECT password_hash($1) AS hash", IdentitySecrets.newPassword())
        guard let hash: String = try rows.first?.decode("hash") else { throw PostgresError.invalidState("password_hash returned no row") }
        dummyLock.lock()
        dummyHash = hash
        dummyLock.unlock()
        return hash
    }

    static let invalidCredentials = APIError(status: 401, code: "invalid_credentials",
                                             message: "unknown username or wrong password")

    static func accountLocked(retryAfter: Int) -> APIError {
        APIError(status: 429, code: "account_locked",
                 message: "too many failed logins: this account is locked for a while",
                 retryAfterSeconds: max(1, retryAfter))
    }

    /// Ends the session of `bearerToken` at once (this replica at once; others within the cache TTL).
    /// Returns false when the token is no live session.
    @discardableResult
    public func logout(bearerToken token: String) throws -> Bool {
        guard token.hasPrefix(IdentitySecrets.sessionPrefix), token.utf8.count == 47 else { return false }
        let hash = IdentitySecrets.tokenHash(token)
        cache.evict(tokenHash: hash)
        let n = try database.execute("UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", hash)
        return n > 0
    }

    /// Revokes every live session of a user (disabled, password reset) and forgets its cached identities.
    func revokeSessions(userId: String, on conn: PostgresConnection) throws {
        try conn.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", userId)
    }

    func evictCached(userId: String) {
        cache.evict { caller in
            if case .session = caller.credential { return caller.identity.userId == userId }
            return false
        }
    }

    func evictCached(apiKeyId: String) {
        cache.evict { $0.credential == .apiKey(id: apiKeyId) }
    }
}

/// The answer to a successful login.
public struct LoginResult: Sendable, Encodable, Equatable {
    public struct User: Sendable, Encodable, Equatable {
        public var id: String
        public var username: String
        public var orgId: String
        public var orgPath: String
        public var roles: [String]
        public var rights: [String]
    }

    /// The bearer token; shown once, stored only as a hash.
    public var token: String
    /// The session's absolute end; it ends earlier after `sessionIdleTimeout` without use.
    public var expiresAt: Date
    public var user: User
}
