import Contracts
import Foundation
@testable import ServiceKit
import XCTest

/// The org directory: answers from memory, refreshes once on an unknown id (rate-limited), keeps
/// serving what it knows when the gateway is down, and refuses to guess before it ever loaded.
final class OrgDirectoryTests: XCTestCase {
    final class Source: @unchecked Sendable {   // Thread-safety: guarded by `lock`.
        let lock = NSLock()
        var units: [OrgDirectory.Unit] = [.init(id: "hq", parentId: nil, path: "/hq/", kind: "head_office", name: "HQ")]
        var fails = false
        var calls = 0
        func fetch() throws -> [OrgDirectory.Unit] {
            lock.lock(); defer { lock.unlock() }
            calls += 1
            if fails { throw APIError.unavailable("down") }
            return units
        }
    }

    let caller = CallerIdentity(userId: "u", orgId: "sh", orgPath: "/hq/sh/", roles: [], rights: [])

    func testUnknownIdsRefreshOnceAndScopeIsChecked() throws {
        let source = Source()
        let directory = OrgDirectory(maximumAge: 3600, minimumRefreshInterval: 0) { try source.fetch() }
        XCTAssertEqual(try directory.unit("hq")?.path, "/hq/")
        XCTAssertEqual(source.calls, 1)
        XCTAssertEqual(try directory.unit("hq")?.path, "/hq/")
        XCTAssertEqual(source.calls, 1, "a known unit is answered from memory")
        source.units.append(.init(id: "sh_pd", parentId: "sh", path: "/hq/sh/sh_pd/", kind: "sub_branch", name: "PD"))
        XCTAssertEqual(try directory.path(of: "sh_pd", for: caller), "/hq/sh/sh_pd/")
        XCTAssertEqual(source.calls, 2)
        XCTAssertThrowsError(try directory.path(of: "hq", for: caller)) { error in
            XCTAssertEqual((error as? APIError)?.status, 422)
            XCTAssertEqual((error as? APIError)?.details?["field"], "orgId")
        }
        XCTAssertThrowsError(try directory.path(of: "nowhere", for: caller, field: "rows[3].orgId")) { error in
            XCTAssertEqual((error as? APIError)?.details?["field"], "rows[3].orgId")
        }
    }

    func testMissesAreRateLimitedAndAnOutageKeepsTheKnownTree() throws {
        let source = Source()
        let directory = OrgDirectory(maximumAge: 0, minimumRefreshInterval: 60) { try source.fetch() }
        XCTAssertNotNil(try directory.unit("hq"))
        for _ in 0..<100 { _ = try directory.unit("unknown") }
        XCTAssertEqual(source.calls, 1, "a flood of unknown ids must not hammer the gateway")
        source.fails = true
        XCTAssertEqual(try directory.unit("hq")?.path, "/hq/")
    }

    func testNeverLoadedAndUnreachableIsA503() {
        let source = Source()
        source.fails = true
        let directory = OrgDirectory { try source.fetch() }
        XCTAssertThrowsError(try directory.unit("hq")) { error in
            XCTAssertEqual((error as? APIError)?.status, 503)
        }
    }
}
