import Contracts
import Foundation
@testable import Gateway
import HTTP
import Postgres
import ServiceKit
import TestSupport
import XCTest

/// `GET /api/v1/audit`: parameters, answers, scope and failures.
final class AuditRoutesTests: XCTestCase {
    func testListsFilteredPagesNewestFirstWithExplicitNulls() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        let t0 = Date(timeIntervalSince1970: 1_760_000_000)
        for i in 0..<5 {
            db.log.record(AuditFixtures.entry(actor: "u_1", name: "alice", at: t0 + Double(i), requestId: "r\(i)"))
        }
        db.log.record(AuditEntry(at: t0 + 10, actorId: nil, actorName: nil, orgId: nil, orgPath: nil, action: "login",
                                 resource: "/api/v1/auth/login", outcome: 401, requestId: "anon", remoteAddress: nil))
        let client = AuditFixtures.client(log: db.log, as: AuditFixtures.headOffice)

        let first = client.execute(.GET, "/api/v1/audit?user=alice&limit=2")
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertEqual(first.headers.first("content-type"), "application/json")
        XCTAssertEqual(first.auditItems.map { $0["requestId"]?.stringValue }, ["r4", "r3"])
        let item = try XCTUnwrap(first.auditItems.first)
        XCTAssertEqual(item["at"]?.stringValue, JSONCoding.formatDate(t0 + 4))
        XCTAssertNotNil(item["id"]?.stringValue, "ids are strings")
        XCTAssertEqual(item["outcome"]?.doubleValue, 201)
        let cursor = try XCTUnwrap(first.auditJSON["nextCursor"]?.stringValue)

        let second = client.execute(.GET, "/api/v1/audit?user=alice&limit=2&cursor=\(cursor)")
        XCTAssertEqual(second.auditItems.map { $0["requestId"]?.stringValue }, ["r2", "r1"])
        let third = client.execute(.GET, "/api/v1/audit?user=alice&limit=2&cursor=\(try XCTUnwrap(second.auditJSON["nextCursor"]?.stringValue))")
        XCTAssertEqual(third.auditItems.map { $0["requestId"]?.stringValue }, ["r0"])
        XCTAssertEqual(third.auditJSON["nextCursor"], .null, "the last page says so with null")

        // Time window in the query, with a numeric offset whose `+` arrived unencoded (a space).
        let window = client.execute(.GET, "/api/v1/audit?from=2025-10-09T16:53:21%2B08:00&to=2025-10-09T08:53:23Z")
        XCTAssertEqual(window.status, 200, window.text)
        XCTAssertEqual(window.auditItems.map { $0["requestId"]?.stringValue }, ["r2", "r1"])
        let spaced = client.execute(.GET, "/api/v1/audit?from=2025-10-09T16:53:21+08:00&to=2025-10-09T08:53:23Z")
        XCTAssertEqual(spaced.auditItems.map { $0["requestId"]?.stringValue }, ["r2", "r1"])

        // Anonymous attempts: absent values are JSON null, and head office sees them.
        let anonymous = client.execute(.GET, "/api/v1/audit?resource=/api/v1/auth/login")
        let row = try XCTUnwrap(anonymous.auditItems.first)
        XCTAssertEqual(row["actorId"], .null)
        XCTAssertEqual(row["orgPath"], .null)
        XCTAssertEqual(row["remoteAddress"], .null)
        XCTAssertEqual(row["outcome"]?.doubleValue, 401)
    }

    func testBranchCallersSeeOnlyTheirSubtree() throws {
        let db = try AuditTestDatabase()
        defer { db.close() }
        for path in ["/hq/", "/hq/sh/", "/hq/sh/pd/", "/hq/bj/"] { db.log.record(AuditFixtures.entry(orgPath: path)) }
        db.log.record(AuditFixtures.entry(actor: nil, name: nil, orgPath: nil))

        func paths(_ caller: CallerIdentity) -> [String] {
            AuditFixtures.client(log: db.log, as: caller).execute(.GET, "/api/v1/audit")
                .auditItems.map { $0["orgPath"]?.stringValue ?? "none" }
        }
        XCTAssertEqual(paths(AuditFixtures.admin(of: "/hq/sh/")), ["/hq/sh/pd/", "/hq/sh/"])
        XCTAssertEqual(paths(AuditFixtures.admin(of: "/hq/bj/")), ["/hq/bj/"])
        XCTAssertEqual(paths(AuditFixtures.headOffice), ["none", "/hq/bj/", "/hq/sh/pd/", "/hq/sh/", "/hq/"])
    }

    func testMalformedParametersAreA400NamingThem() throws {
        // Parameters are checked before the database is asked, so no database is needed here.
        let log = try AuditFixtures.unreachableLog(sink: InMemoryLogSink(), metrics: MetricsRegistry())
        let client = AuditFixtures.client(log: log, as: AuditFixtures.headOffice)
        let cases: [(String, String)] = [
            ("from=yesterday", "from"),
            ("to=2025-13-01T00:00:00Z", "to"),
            ("from=2025-01-01", "from"),
            ("from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=ten", "limit"),
            ("limit=-5", "limit"),
            ("cursor=not-a-cursor", "cursor"),
            ("cursor=djE6LTE", "cursor"),
            ("user=" + String(repeating: "u", count: 201), "user"),
            ("resource=%00", "resource"),
            ("action=" + String(repeating: "a", count: 601), "action"),
        ]
        for (query, field) in cases {
            let response = client.execute(.GET, "/api/v1/audit?" + query)
            XCTAssertEqual(response.status, 400, "\(query): \(response.text)")
            XCTAssertEqual(response.auditJSON["error"]?["details"]?["field"]?.stringValue, field, query)
        }
    }

    func testCallerWithoutIdentityOrManageRightIsRefused() throws {
        let log = try AuditFixtures.unreachableLog(sink: InMemoryLogSink(), metrics: MetricsRegistry())
        let anonymous = AuditFixtures.client(log: log, as: nil).execute(.GET, "/api/v1/audit")
        XCTAssertEqual(anonymous.status, 401)
        let viewer = CallerIdentity(userId: "u_v", orgId: "hq", orgPath: "/hq/", roles: ["viewer"], rights: ["view"])
        let refused = AuditFixtures.client(log: log, as: viewer).execute(.GET, "/api/v1/audit")
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.errorCode, "forbidden")
    }

    func testAnUnreachableDatabaseAnswers503() throws {
        let log = try AuditFixtures.unreachableLog(sink: InMemoryLogSink(), metrics: MetricsRegistry())
        let response = AuditFixtures.client(log: log, as: AuditFixtures.headOffice).execute(.GET, "/api/v1/audit")
        XCTAssertEqual(response.status, 503, response.text)
        XCTAssertEqual(response.errorCode, "database_unavailable")
        XCTAssertNotNil(response.headers.first("retry-after"))
    }
}
