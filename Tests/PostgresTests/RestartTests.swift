import Foundation
import XCTest
@testable import Postgres

/// PostgreSQL restarted (pg_ctl restart -m fast) in the middle of use.
final class RestartTests: XCTestCase {
    func testPoolAndListenerRecoverAfterServerRestart() throws {
        let config = try TestDatabase.configuration(poolSize: 3, acquireTimeout: 5)
        let pool = PostgresPool(configuration: config)
        defer { pool.close() }
        // Warm up several idle connections.
        runOnThreads(3) { _ in _ = try? pool.withConnection { conn in _ = try conn.query("SELECT pg_sleep(0.05)") } }
        XCTAssertEqual(pool.metrics.open, 3)

        let channel = TestDatabase.uniqueSchema("restart")
        let received = Locked<[String]>([])
        let connects = Locked(0)
        let listener = PostgresListener(configuration: config, onConnect: { connects.withValue { $0 += 1 } }) { note in
            received.withValue { $0.append(note.payload) }
        }
        try listener.start()
        defer { listener.stop() }
        XCTAssertTrue(try listener.listen(channel))
        try pool.notify(channel, payload: "before")
        XCTAssertTrue(eventually { received.current == ["before"] })

        // A statement in flight during the restart fails with a typed error, never a crash or hang.
        let inFlight = Locked<Error?>(nil)
        let inFlightDone = DispatchSemaphore(value: 0)
        Thread {
            do {
                _ = try pool.withConnection { conn in try conn.query("SELECT pg_sleep(30)") }
            } catch {
                inFlight.withValue { $0 = error }
            }
            inFlightDone.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.3)

        try TestDatabase.restartServer()

        XCTAssertEqual(inFlightDone.wait(timeout: .now() + 10), .success, "the in-flight call must return")
        let error = try XCTUnwrap(inFlight.current as? PostgresError, "expected a PostgresError, got \(String(describing: inFlight.current))")
        XCTAssertTrue(error.isUnavailable, "\(error)")

        // The next calls succeed: idle connections killed by the restart are replaced.
        for i in 0..<6 {
            XCTAssertEqual(try pool.query("SELECT $1::int AS i", i).first?.decode("i", as: Int.self), i)
        }
        runOnThreads(3) { _ in
            do { try pool.ping() } catch { XCTFail("ping after restart: \(error)") }
        }
        XCTAssertGreaterThanOrEqual(pool.metrics.connectionsDiscarded, 3)

        // The listener reconnects and re-LISTENs by itself.
        XCTAssertTrue(eventually(timeout: 15) { listener.isConnected && listener.reconnectCount >= 1 && connects.current >= 2 })
        XCTAssertTrue(eventually(timeout: 5) {
            // Keep notifying until the re-LISTEN is in place (it races with our first notify).
            _ = try? pool.notify(channel, payload: "after")
            return received.current.contains("after")
        })
    }
}
