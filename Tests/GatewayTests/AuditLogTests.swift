import Contracts
import Foundation
import HTTP
@testable import Gateway
import Postgres
import ServiceKit
import TestSupport
import XCTest

/// The audit trail in PostgreSQL: recording, filtering, paging, org scope, append-only, fallback.
final class AuditLogTests: XCTestCase {
    func testEntriesAreStoredWithEveryField() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        let at = Date(timeIntervalSince1970: 1_750_000_000.123)
        db.log.record(AuditEntry(at: at, actorId: "u_1", actorName: "alice", orgId: "sh", orgPath: "/hq/sh/",
                                 action: "PATCH /api/v1/users/{id}", resource: "/api/v1/users/u_9", outcome: 200,
                                 requestId: "req-42", remoteAddress: "10.1.2.3"))
        let page = try db.log.search(AuditQuery(scope: .all))
        XCTAssertEqual(page.items.count, 1)
        let item = try XCTUnwrap(page.items.first)
        XCTAssertEqual(item.actorId, "u_1")
        XCTAssertEqual(item.actorName, "alice")
        XCTAssertEqual(item.orgId, "sh")
        XCTAssertEqual(item.orgPath, "/hq/sh/")
        XCTAssertEqual(item.action, "PATCH /api/v1/users/{id}")
        XCTAssertEqual(item.resource, "/api/v1/users/u_9")
        XCTAssertEqual(item.outcome, 200)
        XCTAssertEqual(item.requestId, "req-42")
        XCTAssertEqual(item.remoteAddress, "10.1.2.3")
        XCTAssertEqual(item.at.timeIntervalSince1970, at.timeIntervalSince1970, accuracy: 0.001)
        XCTAssertNil(page.nextCursor)
        XCTAssertEqual(db.metrics.render().contains("audit_entries_recorded_total 1"), true)
        XCTAssertTrue(db.sink.lines.isEmpty, "nothing logged on success: \(db.sink.lines)")
    }

    /// Concurrent entries share inserts; each one is stored once with its own fields, and an entry the
    /// table refuses costs no other entry of its batch its place.
    func testConcurrentEntriesAreEachStoredOnceAndARefusedOneAlone() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        try db.pool.execute("""
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.request_id = 'poison' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$
            """)
        try db.pool.execute("CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
        let threads = 16, perThread = 25
        TestThreads.run(threads) { t in
            for i in 0..<perThread {
                let id = t == 3 && i == 7 ? "poison" : "req-\(t)-\(i)"
                db.log.record(AuditFixtures.entry(actor: "u_\(t)", resource: "/api/v1/users/\(t)-\(i)", outcome: 200 + i, requestId: id))
            }
        }
        var stored: [String: (String, String, Int)] = [:]
        for row in try db.pool.query("SELECT request_id, actor_id, resource, outcome FROM audit_log") {
            let id: String = try row.decode("request_id")
            XCTAssertNil(stored[id], "\(id) stored twice")
            stored[id] = (try row.decode("actor_id"), try row.decode("resource"), try row.decode("outcome"))
        }
        XCTAssertEqual(stored.count, threads * perThread - 1)
        for t in 0..<threads {
            for i in 0..<perThread where !(t == 3 && i == 7) {
                let row = stored["req-\(t)-\(i)"]
                XCTAssertEqual(row?.0, "u_\(t)")
                XCTAssertEqual(row?.1, "/api/v1/users/\(t)-\(i)")
                XCTAssertEqual(row?.2, 200 + i)
            }
        }
        XCTAssertTrue(db.metrics.render().contains("audit_entries_recorded_total \(threads * perThread - 1)"), db.metrics.render())
        XCTAssertTrue(db.metrics.render().contains("audit_fallback_total 1"), db.metrics.render())
        let fallback = try db.sink.objects().filter { $0["msg"] as? String == "audit_fallback" }
        XCTAssertEqual(fallback.map { $0["requestId"] as? String }, ["poison"])
    }

    func testFiltersByUserResourceActionAndTime() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        let t0 = Date(timeIntervalSince1970: 1_760_000_000)
        db.log.record(AuditFixtures.entry(actor: "u_1", name: "alice", resource: "/api/v1/users", at: t0))
        db.log.record(AuditFixtures.entry(actor: "u_1", name: "alice", action: "PATCH /api/v1/users/{id}",
                                          resource: "/api/v1/users/u_7", outcome: 200, at: t0 + 60))
        db.log.record(AuditFixtures.entry(actor: "u_2", name: "bob", action: "POST /api/v1/api-keys/{id}:revoke",
                                          resource: "/api/v1/api-keys/k_1:revoke", outcome: 200, at: t0 + 120))
        db.log.record(AuditFixtures.entry(actor: "u_2", name: "bob", action: "POST /api/v1/users2",
                                          resource: "/api/v1/users2", at: t0 + 180))

        func actors(_ query: AuditQuery) throws -> [String] {
            try db.log.search(query).items.map { "\($0.actorName ?? "-") \($0.resource)" }
        }
        // By user id or username, newest first.
        XCTAssertEqual(try actors(AuditQuery(scope: .all, user: "u_1")),
                       ["alice /api/v1/users/u_7", "alice /api/v1/users"])
        XCTAssertEqual(try actors(AuditQuery(scope: .all, user: "bob")).count, 2)
        XCTAssertEqual(try actors(AuditQuery(scope: .all, user: "nobody")), [])
        // By resource: the path and everything below it at a segment boundary, not `/users2`.
        XCTAssertEqual(try actors(AuditQuery(scope: .all, resource: "/api/v1/users")),
                       ["alice /api/v1/users/u_7", "alice /api/v1/users"])
        XCTAssertEqual(try actors(AuditQuery(scope: .all, resource: "/api/v1/users/")),
                       ["alice /api/v1/users/u_7", "alice /api/v1/users"])
        XCTAssertEqual(try actors(AuditQuery(scope: .all, resource: "/api/v1/api-keys/k_1")), ["bob /api/v1/api-keys/k_1:revoke"])
        // LIKE wildcards in the filter are literal.
        XCTAssertEqual(try actors(AuditQuery(scope: .all, resource: "/api/v1/user_")), [])
        XCTAssertEqual(try actors(AuditQuery(scope: .all, resource: "/api/v1/%")), [])
        // By action.
        XCTAssertEqual(try actors(AuditQuery(scope: .all, action: "PATCH /api/v1/users/{id}")), ["alice /api/v1/users/u_7"])
        // By time: from inclusive, to exclusive.
        XCTAssertEqual(try actors(AuditQuery(scope: .all, from: t0 + 60, to: t0 + 180)),
                       ["bob /api/v1/api-keys/k_1:revoke", "alice /api/v1/users/u_7"])
        XCTAssertEqual(try actors(AuditQuery(scope: .all, from: t0 + 181)), [])
        // Combined.
        XCTAssertEqual(try actors(AuditQuery(scope: .all, user: "bob", from: t0 + 150)), ["bob /api/v1/users2"])
    }

    func testPagingIsStableWhileNewEntriesArrive() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        for i in 0..<7 { db.log.record(AuditFixtures.entry(requestId: "r\(i)")) }

        var seen: [String] = []
        var query = AuditQuery(scope: .all, limit: 3)
        var pages = 0
        while true {
            let page = try db.log.search(query)
            pages += 1
            seen += page.items.map(\.requestId)
            if pages == 1 {
                // Entries recorded after the first page must not shift the later pages.
                for i in 7..<10 { db.log.record(AuditFixtures.entry(requestId: "r\(i)")) }
            }
            guard let next = page.nextCursor else { break }
            query.after = try AuditRoutes.parse(QueryParameters("cursor=" + next), scope: .all).after
            XCTAssertLessThan(pages, 10, "paging does not end")
        }
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(seen, ["r6", "r5", "r4", "r3", "r2", "r1", "r0"])
        // A page that ends exactly at the last row has no next cursor.
        let all = try db.log.search(AuditQuery(scope: .all, limit: 10))
        XCTAssertEqual(all.items.count, 10)
        XCTAssertNil(all.nextCursor)
    }

    func testBranchesSeeOnlyTheirSubtreeAndHeadOfficeSeesAll() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        let paths: [String?] = ["/hq/", "/hq/sh/", "/hq/sh/pd/", "/hq/shx/", "/hq/bj/", "/hq/a_b/", "/hq/axb/", nil]
        for (i, path) in paths.enumerated() { db.log.record(AuditFixtures.entry(orgPath: path, requestId: "r\(i)")) }

        func visible(_ caller: CallerIdentity) throws -> Set<String> {
            Set(try db.log.search(AuditQuery(scope: AuditScope.of(caller), limit: 500)).items.map { $0.orgPath ?? "none" })
        }
        XCTAssertEqual(try visible(AuditFixtures.headOffice),
                       ["/hq/", "/hq/sh/", "/hq/sh/pd/", "/hq/shx/", "/hq/bj/", "/hq/a_b/", "/hq/axb/", "none"])
        XCTAssertEqual(try visible(AuditFixtures.admin(of: "/hq/sh/")), ["/hq/sh/", "/hq/sh/pd/"],
                       "a sibling whose id starts the same (/hq/shx/) is not in the subtree")
        XCTAssertEqual(try visible(AuditFixtures.admin(of: "/hq/sh/pd/")), ["/hq/sh/pd/"])
        XCTAssertEqual(try visible(AuditFixtures.admin(of: "/hq/bj/")), ["/hq/bj/"])
        XCTAssertEqual(try visible(AuditFixtures.admin(of: "/hq/a_b/")), ["/hq/a_b/"], "`_` is not a LIKE wildcard here")
        // Filters cannot widen the scope.
        XCTAssertEqual(try db.log.search(AuditQuery(scope: .subtree(orgPath: "/hq/bj/"), user: "u_1")).items.map(\.orgPath),
                       ["/hq/bj/"])
        XCTAssertEqual(AuditScope.of(AuditFixtures.headOffice), .all)
        XCTAssertEqual(AuditScope.of(AuditFixtures.admin(of: "/hq/sh/")), .subtree(orgPath: "/hq/sh/"))
    }

    func testTheDatabaseRefusesUpdateDeleteAndTruncate() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        db.log.record(AuditFixtures.entry())
        db.log.record(AuditFixtures.entry())
        let statements = [
            "UPDATE audit_log SET outcome = 200",
            "UPDATE audit_log SET actor_id = 'someone else' WHERE id = (SELECT min(id) FROM audit_log)",
            "DELETE FROM audit_log",
            "DELETE FROM audit_log WHERE false",
            "TRUNCATE audit_log",
        ]
        for sql in statements {
            XCTAssertThrowsError(try db.pool.execute(sql), sql) { error in
                let server = (error as? PostgresError)?.serverError
                XCTAssertEqual(server?.sqlState, "42501", "\(sql): \(error)")
                XCTAssertTrue(server?.message.contains("append-only") == true, "\(sql): \(error)")
            }
        }
        XCTAssertEqual(try db.count(), 2)
        let actors = try db.log.search(AuditQuery(scope: .all)).items.map(\.actorId)
        XCTAssertEqual(actors, ["u_1", "u_1"], "nothing was changed")
    }

    func testHostileValuesAreStoredNotLost() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        let longPath = "/api/v1/users/" + String(repeating: "é", count: 5000)
        db.log.record(AuditEntry(actorId: "u\u{0}1", actorName: String(repeating: "x", count: 1000), orgId: nil,
                                 orgPath: nil, action: "", resource: longPath, outcome: 1234, requestId: "r",
                                 remoteAddress: nil))
        XCTAssertTrue(db.sink.lines.isEmpty, "\(db.sink.lines)")
        let item = try XCTUnwrap(try db.log.search(AuditQuery(scope: .all)).items.first)
        XCTAssertEqual(item.actorId, "u1")
        XCTAssertEqual(item.actorName?.utf8.count, 200)
        XCTAssertEqual(item.action, "-")
        XCTAssertTrue(item.resource.hasPrefix("/api/v1/users/éé"))
        XCTAssertLessThanOrEqual(item.resource.utf8.count, 4096)
        XCTAssertEqual(item.outcome, 999)
    }

    func testAnUnreachableDatabaseSendsTheWholeEntryToTheErrorLog() throws {
        let sink = InMemoryLogSink()
        let metrics = MetricsRegistry()
        let log = try AuditFixtures.unreachableLog(sink: sink, metrics: metrics)
        let at = Date(timeIntervalSince1970: 1_760_000_000.5)
        let started = Date()
        log.record(AuditEntry(at: at, actorId: "u_1", actorName: "alice", orgId: "sh", orgPath: "/hq/sh/",
                              action: "POST /api/v1/users", resource: "/api/v1/users", outcome: 201,
                              requestId: "req-77", remoteAddress: "10.0.0.9"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "a refused connection fails fast")
        let lines = try sink.objects()
        XCTAssertEqual(lines.count, 1, "\(sink.lines)")
        let line = try XCTUnwrap(lines.first)
        XCTAssertEqual(line["msg"] as? String, "audit_fallback")
        XCTAssertEqual(line["level"] as? String, "error")
        XCTAssertEqual(line["requestId"] as? String, "req-77")
        XCTAssertEqual(line["actorId"] as? String, "u_1")
        XCTAssertEqual(line["actorName"] as? String, "alice")
        XCTAssertEqual(line["orgId"] as? String, "sh")
        XCTAssertEqual(line["orgPath"] as? String, "/hq/sh/")
        XCTAssertEqual(line["action"] as? String, "POST /api/v1/users")
        XCTAssertEqual(line["resource"] as? String, "/api/v1/users")
        XCTAssertEqual(line["outcome"] as? Int, 201)
        XCTAssertEqual(line["remoteAddress"] as? String, "10.0.0.9")
        XCTAssertEqual(line["at"] as? String, JSONCoding.formatDate(at))
        XCTAssertNotNil(line["error"] as? String)
        XCTAssertTrue(metrics.render().contains("audit_fallback_total 1"), metrics.render())

        // An anonymous entry: absent fields are left out, never written as empty strings.
        log.record(AuditEntry(actorId: nil, actorName: nil, orgId: nil, orgPath: nil, action: "login",
                              resource: "/api/v1/auth/login", outcome: 401, requestId: "req-78", remoteAddress: nil))
        let second = try XCTUnwrap(try sink.objects().last)
        XCTAssertEqual(second["msg"] as? String, "audit_fallback")
        XCTAssertNil(second["actorId"])
        XCTAssertNil(second["orgPath"])
        XCTAssertTrue(metrics.render().contains("audit_fallback_total 2"), metrics.render())
    }

    func testCursorTokensRoundTripAndRejectForgeries() throws {
        func after(_ cursor: String) throws -> Int64? {
            try AuditRoutes.parse(QueryParameters("cursor=" + cursor), scope: .all).after
        }
        let cursor = PageRequest.cursor(after: "1234567")
        XCTAssertEqual(try after(cursor), 1234567)
        XCTAssertFalse(cursor.contains("="))
        XCTAssertNil(try after(""), "an empty cursor is the first page")
        // Not base64url, not UTF-8, NUL bytes, too long, and well-formed cursors whose key is no row id
        // (the old `v1:` format, zero, negative, signed, leading zero, beyond Int64, empty).
        let forgeries = ["abc", "djE6", "djE6LTE", "djE6MTIzYQ", String(repeating: "A", count: 100), "djE6MTI%2B",
                         "eDoxMjM", "MTIzNA==", "MTIzNA%3D%3D", "MTIzNB", "%2F%2F8", "not-a-cursor",
                         String(repeating: "M", count: PageRequest.maximumCursorLength + 4)]
            + ["0", "-1", "+1", "012", "9223372036854775808", "99999999999999999999", "1 ", " 1", "1e3", "١٢"]
                .map { PageRequest.cursor(after: $0) }
        for bad in forgeries {
            XCTAssertThrowsError(try after(bad), bad) { error in
                XCTAssertEqual((error as? APIError)?.status, 400, bad)
                XCTAssertEqual((error as? APIError)?.details?["field"]?.stringValue, "cursor", bad)
            }
        }
        XCTAssertEqual(try after(PageRequest.cursor(after: "9223372036854775807")), Int64.max)
    }
}
