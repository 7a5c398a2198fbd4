import Foundation
import XCTest
@testable import Postgres

final class ListenerTests: XCTestCase {
    func testNotificationsAreDelivered() throws {
        let config = try TestDatabase.configuration()
        let channel = TestDatabase.uniqueSchema("chan")
        let other = TestDatabase.uniqueSchema("other")
        let received = Locked<[PostgresNotification]>([])
        let connects = Locked(0)
        let listener = PostgresListener(configuration: config, onConnect: { connects.withValue { $0 += 1 } }) { note in
            received.withValue { $0.append(note) }
        }
        try listener.start()
        defer { listener.stop() }
        XCTAssertTrue(try listener.listen(channel))
        XCTAssertTrue(listener.isConnected)
        XCTAssertTrue(eventually { connects.current == 1 }, "onConnect runs once LISTEN is active")

        let pool = PostgresPool(configuration: config)
        defer { pool.close() }
        try pool.notify(channel, payload: "first")
        try pool.notify(other, payload: "not listened")
        // Inside a transaction: delivered only on COMMIT, and never if rolled back.
        struct Abort: Error {}
        _ = try? pool.transaction { conn in
            try PostgresListener.notify(channel, payload: "rolled back", on: conn)
            throw Abort()
        }
        try pool.transaction { conn in try PostgresListener.notify(channel, payload: "Grüße 你好 🏦", on: conn) }
        XCTAssertTrue(eventually { received.current.count >= 2 })
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(received.current.map(\.payload), ["first", "Grüße 你好 🏦"])
        XCTAssertEqual(Set(received.current.map(\.channel)), [channel])

        listener.unlisten(channel)
        XCTAssertTrue(try listener.listen(other))
        try pool.notify(channel, payload: "after unlisten")
        try pool.notify(other, payload: "second channel")
        XCTAssertTrue(eventually { received.current.count >= 3 })
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(received.current.last?.payload, "second channel")
        XCTAssertEqual(received.current.count, 3)

        XCTAssertThrowsError(try listener.listen("bad channel; DROP")) { error in
            guard case PostgresError.invalidIdentifier? = error as? PostgresError else { return XCTFail("\(error)") }
        }
    }

    func testStopIsPromptAndListenWhileServerUnreachableReturnsFalse() throws {
        var config = try TestDatabase.configuration()
        config.port = 1
        let listener = PostgresListener(configuration: config) { _ in }
        try listener.start()
        XCTAssertFalse(try listener.listen("nobody_home", timeout: 0.3))
        XCTAssertFalse(listener.isConnected)
        let started = Date()
        listener.stop()
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
    }
}
