import Contracts
import Foundation
@testable import Gateway
import ServiceKit
import TestSupport
import XCTest

final class IdentityBootstrapTests: XCTestCase {
    private var harnesses: [IdentityHarness] = []

    override func tearDown() {
        harnesses.forEach { $0.close() }
        harnesses.removeAll()
        super.tearDown()
    }

    /// Lines announced on "standard output", kept for assertions.
    final class Announcements: @unchecked Sendable {
        // Thread-safety: `lines` is guarded by `lock`.
        private let lock = NSLock()
        private var stored: [String] = []
        func add(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
        var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
    }

    func testTwoConcurrentBootstrapsCreateOneAdminAndPrintItsPasswordOnce() throws {
        let h = try IdentityHarness(bootstrap: false)
        harnesses.append(h)
        let sink = InMemoryLogSink()
        let announced = Announcements()
        let bootstraps = (0..<2).map { _ in
            IdentityBootstrap(database: h.pool, adminPassword: nil, logger: Logger(service: "gateway", sink: sink),
                              announce: { announced.add($0) })
        }
        let outcomes = OutcomeBox()
        // Our own threads (blocking database work stays off Dispatch's pool), released together.
        let group = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        for bootstrap in bootstraps {
            group.enter()
            Thread.detachNewThread {
                gate.wait()
                do { outcomes.add(try bootstrap.run()) } catch { outcomes.fail(error) }
                group.leave()
            }
        }
        gate.signal()
        gate.signal()
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertNil(outcomes.error)
        XCTAssertEqual(outcomes.values.sorted { "\($0)" < "\($1)" },
                       [.adminCreated(passwordGenerated: true), .adminExisted].sorted { "\($0)" < "\($1)" })
        XCTAssertEqual(try h.pool.query("SELECT 1 FROM users WHERE username = 'admin'").count, 1)
        XCTAssertEqual(try h.pool.query("SELECT id, path FROM org_units").map { try $0.decode("path", as: String.self) }, ["/hq/"])

        // One human line with the password; one JSON log line without it.
        XCTAssertEqual(announced.lines.count, 1)
        let line = announced.lines[0]
        let password = try XCTUnwrap(line.components(separatedBy: "password ").last?.components(separatedBy: " ").first)
        XCTAssertGreaterThanOrEqual(password.count, 16)
        let logs = try sink.objects()
        XCTAssertEqual(logs.filter { $0["msg"] as? String == "admin password generated" }.count, 1)
        XCTAssertFalse(sink.lines.joined().contains(password))

        // The printed password works; the admin is head office.
        let login = try h.login("admin", password)
        XCTAssertEqual(login.status, 200, login.text)
        XCTAssertEqual(login.object["user"]?["orgPath"]?.stringValue, "/hq/")

        // A later start changes nothing and prints nothing.
        XCTAssertEqual(try bootstraps[0].run(), .adminExisted)
        try bootstraps[1].start()
        XCTAssertEqual(announced.lines.count, 1)
    }

    func testPasswordFromTheEnvironmentIsUsedAndNotPrinted() throws {
        let h = try IdentityHarness(bootstrap: false)
        harnesses.append(h)
        let sink = InMemoryLogSink()
        let announced = Announcements()
        let bootstrap = IdentityBootstrap(database: h.pool, adminPassword: "from-the-environment",
                                          logger: Logger(service: "gateway", sink: sink), announce: { announced.add($0) })
        XCTAssertEqual(try bootstrap.run(), .adminCreated(passwordGenerated: false))
        XCTAssertTrue(announced.lines.isEmpty)
        XCTAssertFalse(sink.lines.joined().contains("from-the-environment"))
        XCTAssertEqual(try h.login("admin", "from-the-environment").status, 200)
        XCTAssertEqual(bootstrap.taskName, "identity-bootstrap")
        XCTAssertTrue(bootstrap.stop(timeout: 1))
    }
}

/// Results gathered from concurrent work.
final class OutcomeBox: @unchecked Sendable {
    // Thread-safety: all state is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [IdentityBootstrap.Outcome] = []
    private var firstError: (any Error)?
    func add(_ o: IdentityBootstrap.Outcome) { lock.lock(); stored.append(o); lock.unlock() }
    func fail(_ e: any Error) { lock.lock(); firstError = firstError ?? e; lock.unlock() }
    var values: [IdentityBootstrap.Outcome] { lock.lock(); defer { lock.unlock() }; return stored }
    var error: (any Error)? { lock.lock(); defer { lock.unlock() }; return firstError }
}
