import Foundation
import XCTest
@testable import Postgres

final class PoolTests: XCTestCase {
    private var schema = ""

    override func setUp() { schema = TestDatabase.uniqueSchema("pool") }
    override func tearDown() { TestDatabase.dropSchema(schema) }

    func testTransactionRollbackOnThrowLeavesNothing() throws {
        let pool = try TestDatabase.pool(schema: schema)
        defer { pool.close() }
        try pool.execute("CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric NOT NULL)")
        struct Refused: Error {}
        XCTAssertThrowsError(try pool.transaction { conn in
            try conn.execute("INSERT INTO payments VALUES ($1, $2)", 1, Decimal(10))
            try conn.execute("INSERT INTO payments VALUES ($1, $2)", 2, Decimal(20))
            throw Refused()
        }) { XCTAssertTrue($0 is Refused) }
        XCTAssertThrowsError(try pool.transaction { conn in
            try conn.execute("INSERT INTO payments VALUES ($1, $2)", 3, Decimal(10))
            try conn.execute("INSERT INTO payments VALUES ($1, $2)", 3, Decimal(10))  // duplicate key
        }) { XCTAssertTrue(($0 as? PostgresError)?.isUniqueViolation == true) }
        XCTAssertEqual(try pool.query("SELECT count(*) AS n FROM payments").first?.decode("n", as: Int.self), 0)

        try pool.transaction { conn in try conn.execute("INSERT INTO payments VALUES ($1, $2)", 4, Decimal(1)) }
        XCTAssertEqual(try pool.query("SELECT count(*) AS n FROM payments").first?.decode("n", as: Int.self), 1)

        // A body that leaves a transaction open does not leak it to the next borrower.
        try pool.withConnection { conn in
            try conn.execute("BEGIN")
            try conn.execute("INSERT INTO payments VALUES ($1, $2)", 5, Decimal(1))
        }
        XCTAssertEqual(try pool.query("SELECT count(*) AS n FROM payments").first?.decode("n", as: Int.self), 1)
        XCTAssertEqual(pool.metrics.inUse, 0)
    }

    func testExhaustionThrowsWithinTheTimeout() throws {
        let pool = try TestDatabase.pool(schema: schema, poolSize: 2, acquireTimeout: 0.3)
        defer { pool.close() }
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        for _ in 0..<2 {
            finished.enter()
            Thread {
                try? pool.withConnection { conn in
                    _ = try conn.query("SELECT 1")
                    holding.signal()
                    release.wait()
                }
                finished.leave()
            }.start()
        }
        holding.wait()
        holding.wait()
        XCTAssertEqual(pool.metrics.inUse, 2)

        let waiterSeen = Locked(false)
        Thread {
            _ = eventually(timeout: 0.25) { pool.metrics.waiting == 1 }
            waiterSeen.withValue { $0 = pool.metrics.waiting == 1 }
        }.start()
        let started = Date()
        XCTAssertThrowsError(try pool.withConnection { _ in }) { error in
            guard case PostgresError.poolExhausted(_, let size)? = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertEqual(size, 2)
            XCTAssertTrue((error as? PostgresError)?.isUnavailable == true)
        }
        let waited = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(waited, 0.29)
        XCTAssertLessThan(waited, 1.0, "acquire must not hang past its timeout")
        XCTAssertTrue(waiterSeen.current, "the blocked caller shows up in metrics.waiting")
        XCTAssertEqual(pool.metrics.acquireTimeouts, 1)

        // A waiter gets the connection as soon as one is returned.
        let got = Locked(false)
        let waiterDone = DispatchSemaphore(value: 0)
        Thread {
            let ok = (try? pool.withConnection { conn in try conn.ping() }) != nil
            got.withValue { $0 = ok }
            waiterDone.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.05)
        release.signal()
        XCTAssertEqual(waiterDone.wait(timeout: .now() + 2), .success)
        XCTAssertTrue(got.current)
        release.signal()
        finished.wait()
        let metrics = pool.metrics
        XCTAssertEqual(metrics.inUse, 0)
        XCTAssertEqual(metrics.open, 2)
        XCTAssertEqual(metrics.maxSize, 2)
    }

    func testConcurrentUseFromManyThreads() throws {
        let pool = try TestDatabase.pool(schema: schema, poolSize: 4, acquireTimeout: 10)
        defer { pool.close() }
        try pool.execute("CREATE TABLE counter (id int PRIMARY KEY, n bigint NOT NULL)")
        try pool.execute("INSERT INTO counter VALUES (1, 0)")
        let failures = Locked<[String]>([])
        runOnThreads(16) { worker in
            for i in 0..<40 {
                do {
                    try pool.transaction { conn in
                        try conn.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
                        let echoed = try conn.query("SELECT $1::text AS w", "\(worker)-\(i)").first?.decode("w", as: String.self)
                        if echoed != "\(worker)-\(i)" { throw TestSetupError(description: "crossed results") }
                    }
                } catch {
                    failures.withValue { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(failures.current, [])
        XCTAssertEqual(try pool.query("SELECT n FROM counter WHERE id = 1").first?.decode("n", as: Int.self), 16 * 40)
        let metrics = pool.metrics
        XCTAssertLessThanOrEqual(metrics.open, 4)
        XCTAssertLessThanOrEqual(metrics.connectionsOpened, 4)
        XCTAssertEqual(metrics.inUse, 0)
        XCTAssertEqual(metrics.waiting, 0)
    }

    func testBrokenConnectionIsDiscardedAndReplaced() throws {
        let pool = try TestDatabase.pool(schema: schema, poolSize: 1)
        defer { pool.close() }
        let pid = try pool.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int.self)
        // Kill the session from outside while it sits idle in the pool.
        let admin = try PostgresConnection.connect(TestDatabase.configuration())
        defer { admin.close() }
        XCTAssertEqual(try admin.query("SELECT pg_terminate_backend($1::int) AS ok", pid).first?.decode("ok", as: Bool.self), true)
        XCTAssertTrue(eventually { (try? admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", pid).count) == 0 })
        // The next borrower gets a fresh, working session.
        let newPid = try pool.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int.self)
        XCTAssertNotEqual(newPid, pid)
        XCTAssertEqual(pool.metrics.connectionsDiscarded, 1)

        // A session killed while lent: the call fails typed, the pool discards it, the next call works.
        XCTAssertThrowsError(try pool.withConnection { conn in
            _ = try admin.query("SELECT pg_terminate_backend($1::int)", newPid)
            Thread.sleep(forTimeInterval: 0.1)
            try conn.ping()
        }) { error in
            XCTAssertTrue((error as? PostgresError)?.isUnavailable == true, "\(error)")
        }
        XCTAssertNoThrow(try pool.ping())
        XCTAssertEqual(pool.metrics.connectionsDiscarded, 2)
    }

    func testClosedPoolRefuses() throws {
        let pool = PostgresPool(configuration: try TestDatabase.configuration())
        try pool.ping()
        pool.close()
        XCTAssertThrowsError(try pool.ping()) { error in
            guard case PostgresError.poolClosed? = error as? PostgresError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(pool.metrics.open, 0)
    }
}
