import Contracts
import Foundation
@testable import Gateway
import HTTP
import Postgres
import TestSupport
import XCTest

/// Login, throttling, sessions and logout, through the real authentication middleware.
final class IdentitySessionTests: XCTestCase {
    private var harnesses: [IdentityHarness] = []

    override func tearDown() {
        harnesses.forEach { $0.close() }
        harnesses.removeAll()
        super.tearDown()
    }

    private func harness(_ adjust: (inout GatewaySettings) -> Void = { _ in }) throws -> IdentityHarness {
        let h = try IdentityHarness(adjust: adjust)
        harnesses.append(h)
        return h
    }

    func testLoginReturnsTokenUserAndRecordsWhoTried() throws {
        let h = try harness()
        let response = try h.login("admin", IdentityHarness.adminPassword)
        XCTAssertEqual(response.status, 200, response.text)
        let body = response.object
        let token = try XCTUnwrap(body["token"]?.stringValue)
        XCTAssertTrue(token.hasPrefix("lts_"))
        XCTAssertEqual(token.utf8.count, 47)
        XCTAssertNotNil(JSONCoding.parseDate(body["expiresAt"]?.stringValue ?? ""))
        XCTAssertEqual(body["user"]?["username"]?.stringValue, "admin")
        XCTAssertEqual(body["user"]?["orgId"]?.stringValue, "hq")
        XCTAssertEqual(body["user"]?["orgPath"]?.stringValue, "/hq/")
        XCTAssertEqual(body["user"]?["roles"], .array([.string("admin")]))

        // Only the hash is stored.
        let stored = try h.pool.query("SELECT token_hash FROM sessions")
        XCTAssertEqual(stored.count, 1)
        XCTAssertEqual(try stored[0].decode("token_hash", as: String.self), SHA256.hexDigest(token))

        let me = try h.request(.GET, "/api/v1/me", token: token)
        XCTAssertEqual(me.status, 200, me.text)
        XCTAssertEqual(me.object["username"]?.stringValue, "admin")
        XCTAssertEqual(me.object["kind"]?.stringValue, "user")
        XCTAssertEqual(me.object["rights"], .array([.string("manage"), .string("view")]))

        _ = try h.login("admin", "wrong-password-here")
        let logins = h.audit.entries.filter { $0.action == "login" }
        XCTAssertEqual(logins.map(\.outcome), [200, 401])
        XCTAssertEqual(logins.map(\.actorName), ["admin", "admin"])
        XCTAssertNotNil(logins[0].actorId)
        XCTAssertNil(logins[1].actorId)
        // Nothing secret in the audit trail.
        XCTAssertFalse(h.audit.entries.contains { "\($0)".contains(IdentityHarness.adminPassword) || "\($0)".contains(token) })
    }

    func testUnknownUserAndWrongPasswordLookAlike() throws {
        let h = try harness()
        var wrongTimes: [TimeInterval] = []
        var unknownTimes: [TimeInterval] = []
        for _ in 0..<3 {
            var started = Date()
            let wrong = try h.login("admin", "not-the-right-password")
            wrongTimes.append(Date().timeIntervalSince(started))
            started = Date()
            let unknown = try h.login("nobody-here", "not-the-right-password")
            unknownTimes.append(Date().timeIntervalSince(started))
            XCTAssertEqual(wrong.status, 401)
            XCTAssertEqual(unknown.status, 401)
            XCTAssertEqual(wrong.body, unknown.body)
            XCTAssertEqual(wrong.errorCode, "invalid_credentials")
            // Reset the counter so that the lock does not start in this test.
            try h.pool.execute("UPDATE users SET failed_logins = 0")
        }
        // An unknown user still costs a bcrypt check (not a fast "no such row").
        XCTAssertGreaterThan(unknownTimes.min()!, wrongTimes.min()! * 0.4, "unknown \(unknownTimes) wrong \(wrongTimes)")

        // Garbage never yields a 500.
        for (user, password) in [("", ""), ("admin", "pass\u{0}word-long"), (String(repeating: "x", count: 5000), "p"), ("ADMIN", "\u{7}")] {
            let r = try h.login(user, password)
            XCTAssertEqual(r.status, 401, "\(user.prefix(10)) → \(r.text)")
        }
        let missing = try h.request(.POST, "/api/v1/auth/login", json: ["username": "admin"])
        XCTAssertEqual(missing.status, 400)
        XCTAssertEqual(missing.errorField, "password")
    }

    func testLockoutAfterFiveFailuresAndUnlockAfterTheLockTime() throws {
        let h = try harness { $0.loginLockDuration = 1 }
        for attempt in 1...4 {
            let r = try h.login("admin", "wrong-password-\(attempt)")
            XCTAssertEqual(r.status, 401, "attempt \(attempt)")
        }
        let fifth = try h.login("admin", "wrong-password-5")
        XCTAssertEqual(fifth.status, 429)
        XCTAssertEqual(fifth.errorCode, "account_locked")
        XCTAssertEqual(fifth.headers["retry-after"], "1")
        // Locked: even the right password is refused, with the same answer.
        let locked = try h.login("admin", IdentityHarness.adminPassword)
        XCTAssertEqual(locked.status, 429)
        XCTAssertEqual(locked.errorCode, "account_locked")
        XCTAssertNotNil(locked.headers["retry-after"])

        Thread.sleep(forTimeInterval: 1.2)
        XCTAssertEqual(try h.login("admin", IdentityHarness.adminPassword).status, 200)
        let row = try h.pool.query("SELECT failed_logins, locked_until FROM users WHERE username = 'admin'")[0]
        XCTAssertEqual(try row.decode("failed_logins", as: Int.self), 0)
        XCTAssertTrue(row.isNull("locked_until"))

        // After an expired lock, counting starts again from one (not locked by the next single failure).
        try h.pool.execute("UPDATE users SET failed_logins = 5, locked_until = now() - interval '1 second' WHERE username = 'admin'")
        XCTAssertEqual(try h.login("admin", "wrong-again-123").status, 401)
        XCTAssertEqual(try h.pool.query("SELECT failed_logins FROM users WHERE username = 'admin'")[0].decode("failed_logins", as: Int.self), 1)
    }

    func testPerIPLoginLimit() throws {
        let h = try harness { $0.loginAttemptsPerMinutePerIP = 3 }
        for _ in 0..<3 { XCTAssertEqual(try h.login("nobody", "whatever-password").status, 401) }
        let limited = try h.login("admin", IdentityHarness.adminPassword)
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.errorCode, "login_rate_limited")
        XCTAssertNotNil(limited.headers["retry-after"])
        // The limit is per address: another one may still try.
        XCTAssertNoThrow(try h.store.login(username: "admin", password: IdentityHarness.adminPassword, remoteAddress: "10.0.0.9"))
    }

    func testLogoutRevokesAtOnceDespiteTheCache() throws {
        let h = try harness { $0.sessionCacheTTL = 300 }
        let token = try h.token("admin", IdentityHarness.adminPassword)
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: token).status, 200)
        let out = try h.request(.POST, "/api/v1/auth/logout", token: token)
        XCTAssertEqual(out.status, 204, out.text)
        let after = try h.request(.GET, "/api/v1/me", token: token)
        XCTAssertEqual(after.status, 401)
        XCTAssertEqual(after.errorCode, "invalid_token")
        XCTAssertEqual(try h.request(.POST, "/api/v1/auth/logout", token: token).status, 401)
        XCTAssertEqual(try h.pool.query("SELECT 1 FROM sessions WHERE revoked_at IS NOT NULL").count, 1)
    }

    func testIdleAndAbsoluteExpiryAreRefused() throws {
        let h = try harness { $0.sessionCacheTTL = 0 }
        let idle = try h.token("admin", IdentityHarness.adminPassword)
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: idle).status, 200)
        try h.pool.execute("UPDATE sessions SET last_seen_at = now() - make_interval(secs => $1) WHERE token_hash = $2",
                           h.settings.sessionIdleTimeout + 1, SHA256.hexDigest(idle))
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: idle).status, 401)

        let old = try h.token("admin", IdentityHarness.adminPassword)
        try h.pool.execute("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", SHA256.hexDigest(old))
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: old).status, 401)

        // Malformed or foreign tokens are simply unknown.
        for bad in ["", "lts_short", "ltk_" + String(repeating: "A", count: 43), "xyz_" + String(repeating: "A", count: 43)] {
            XCTAssertNil(try h.store.authenticate(bearerToken: bad))
        }
    }

    func testLastSeenIsTouchedAtMostOncePerInterval() throws {
        let h = try harness { $0.sessionCacheTTL = 0 }
        let token = try h.token("admin", IdentityHarness.adminPassword)
        let hash = SHA256.hexDigest(token)
        try h.pool.execute("UPDATE sessions SET last_seen_at = now() - interval '10 minutes' WHERE token_hash = $1", hash)
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: token).status, 200)
        let first: Date = try h.pool.query("SELECT last_seen_at FROM sessions WHERE token_hash = $1", hash)[0].decode("last_seen_at")
        XCTAssertLessThan(abs(first.timeIntervalSinceNow), 5)
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: token).status, 200)
        let second: Date = try h.pool.query("SELECT last_seen_at FROM sessions WHERE token_hash = $1", hash)[0].decode("last_seen_at")
        XCTAssertEqual(first, second)
    }

    func testDisablingAUserEndsItsSessions() throws {
        let h = try harness { $0.sessionCacheTTL = 300 }
        try h.createOrg("a", parent: "hq", kind: "branch")
        let user = try h.createUser("a.viewer", org: "a", roles: ["viewer"])
        let userToken = try h.token("a.viewer", "password-1234")
        let adminToken = try h.token("admin", IdentityHarness.adminPassword)
        XCTAssertEqual(try h.request(.GET, "/api/v1/orgs", token: userToken).status, 200)
        let patch = try h.request(.PATCH, "/api/v1/users/\(user.id)", token: adminToken, json: ["disabled": true])
        XCTAssertEqual(patch.status, 200, patch.text)
        XCTAssertEqual(try h.request(.GET, "/api/v1/orgs", token: userToken).status, 401)
        let again = try h.login("a.viewer", "password-1234")
        XCTAssertEqual(again.status, 403)
        XCTAssertEqual(again.errorCode, "account_disabled")

        // A password reset by an admin ends sessions too, and the new password works.
        let viewer2 = try h.createUser("a.viewer2", org: "a", roles: ["viewer"])
        let t2 = try h.token("a.viewer2", "password-1234")
        XCTAssertEqual(try h.request(.PATCH, "/api/v1/users/\(viewer2.id)", token: adminToken,
                                     json: ["password": "new-password-5678"]).status, 200)
        XCTAssertEqual(try h.request(.GET, "/api/v1/orgs", token: t2).status, 401)
        XCTAssertEqual(try h.login("a.viewer2", "new-password-5678").status, 200)
    }

    func testAPIKeyAuthenticationRightsAndRevocation() throws {
        let h = try harness { $0.sessionCacheTTL = 300 }
        try h.createOrg("a", parent: "hq", kind: "branch")
        let admin = try h.token("admin", IdentityHarness.adminPassword)
        let created = try h.request(.POST, "/api/v1/api-keys", token: admin,
                                    json: ["name": "core banking", "orgId": "a", "rights": ["view"]])
        XCTAssertEqual(created.status, 201, created.text)
        let key = try XCTUnwrap(created.object["key"]?.stringValue)
        let id = try XCTUnwrap(created.object["id"]?.stringValue)
        XCTAssertTrue(key.hasPrefix("ltk_"))
        XCTAssertEqual(created.object["orgPath"]?.stringValue, "/hq/a/")
        XCTAssertEqual(try h.pool.query("SELECT 1 FROM api_keys WHERE key_hash = $1", SHA256.hexDigest(key)).count, 1)

        // The key acts with its own org and rights.
        let orgs = try h.request(.GET, "/api/v1/orgs", token: key)
        XCTAssertEqual(orgs.status, 200, orgs.text)
        XCTAssertEqual(orgs.object.items.compactMap { $0["id"]?.stringValue }, ["a"])
        XCTAssertEqual(try h.request(.POST, "/api/v1/orgs", token: key,
                                     json: ["parentId": "a", "kind": "sub_branch", "name": "x"]).status, 403)
        let me = try h.request(.GET, "/api/v1/me", token: key)
        XCTAssertEqual(me.object["kind"]?.stringValue, "api_key")
        XCTAssertEqual(me.object["username"]?.stringValue, "core banking")
        XCTAssertFalse(try h.pool.query("SELECT last_used_at FROM api_keys WHERE id = $1", id)[0].isNull("last_used_at"))

        // Shown once: reading it never shows the secret.
        let read = try h.request(.GET, "/api/v1/api-keys/\(id)", token: admin)
        XCTAssertEqual(read.status, 200)
        XCTAssertNil(read.object["key"])
        XCTAssertFalse(read.text.contains(key))

        // An API key is not a session: it cannot log out.
        let logout = try h.request(.POST, "/api/v1/auth/logout", token: key)
        XCTAssertEqual(logout.status, 422)
        XCTAssertEqual(logout.errorCode, "not_a_session")

        let revoked = try h.request(.POST, "/api/v1/api-keys/\(id):revoke", token: admin)
        XCTAssertEqual(revoked.status, 200, revoked.text)
        XCTAssertNotNil(revoked.object["revokedAt"]?.stringValue)
        XCTAssertEqual(try h.request(.GET, "/api/v1/orgs", token: key).status, 401)
        XCTAssertEqual(try h.request(.POST, "/api/v1/api-keys/\(id):revoke", token: admin).status, 200)
    }

    func testIdempotentCreatesReplayWithoutSecrets() throws {
        let h = try harness()
        let admin = try h.token("admin", IdentityHarness.adminPassword)
        let headers: HTTPHeaders = ["idempotency-key": "create-key-1"]
        let body: JSONValue = ["name": "crm", "orgId": "hq", "rights": ["view"]]
        let first = try h.request(.POST, "/api/v1/api-keys", token: admin, json: body, headers: headers)
        let second = try h.request(.POST, "/api/v1/api-keys", token: admin, json: body, headers: headers)
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual(second.status, 201)
        XCTAssertEqual(first.object["id"], second.object["id"])
        XCTAssertNotNil(first.object["key"])
        XCTAssertNil(second.object["key"])
        XCTAssertEqual(second.headers["idempotent-replay"], "true")
        XCTAssertEqual(try h.pool.query("SELECT 1 FROM api_keys").count, 1)
        XCTAssertEqual(try h.pool.query("SELECT 1 FROM idempotency_keys WHERE body::text LIKE '%ltk_%'").count, 0)

        let other = try h.request(.POST, "/api/v1/api-keys", token: admin, json: ["name": "other", "orgId": "hq", "rights": ["view"]],
                                  headers: headers)
        XCTAssertEqual(other.status, 422)
        XCTAssertEqual(other.errorCode, "idempotency_key_reused")

        // A failed create releases the key, so a corrected retry goes through.
        let userHeaders: HTTPHeaders = ["idempotency-key": "user-1"]
        let bad = try h.request(.POST, "/api/v1/users", token: admin,
                                json: ["username": "x", "password": "password-1234", "orgId": "hq", "roles": ["viewer"]],
                                headers: userHeaders)
        XCTAssertEqual(bad.status, 422)
        let userBody: JSONValue = ["username": "hq.viewer", "password": "password-1234", "orgId": "hq", "roles": ["viewer"]]
        let ok = try h.request(.POST, "/api/v1/users", token: admin, json: userBody, headers: ["idempotency-key": "user-2"])
        let replay = try h.request(.POST, "/api/v1/users", token: admin, json: userBody, headers: ["idempotency-key": "user-2"])
        XCTAssertEqual(ok.status, 201, ok.text)
        XCTAssertEqual(replay.status, 201, replay.text)
        XCTAssertEqual(ok.object["id"], replay.object["id"])
        let invalidKey = try h.request(.POST, "/api/v1/users", token: admin, json: userBody, headers: ["idempotency-key": "has space"])
        XCTAssertEqual(invalidKey.status, 400)
    }
}
