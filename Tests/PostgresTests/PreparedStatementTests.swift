import Foundation
import XCTest
@testable import Postgres

/// Statements run again are prepared once per session and executed by name; the cache must never
/// change what a statement returns or which error it reports.
final class PreparedStatementTests: XCTestCase {
    private var schema = ""
    private var connection: PostgresConnection!

    override func setUpWithError() throws {
        schema = TestDatabase.uniqueSchema("prep")
        connection = try TestDatabase.connection(schema: schema)
    }

    override func tearDown() {
        connection?.close()
        TestDatabase.dropSchema(schema)
    }

    private func preparedCount(_ like: String) throws -> Int {
        try connection.query("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE $1", like)[0].decode("n")
    }

    func testARepeatedStatementIsPreparedOnceAndAnswersTheSame() throws {
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
        for i in 1...5 {
            try connection.execute("INSERT INTO t (id, note) VALUES ($1, $2)", i, i == 3 ? nil : "n\(i)")
        }
        var seen: [String?] = []
        for i in 1...5 { seen.append(try connection.query("SELECT note FROM t WHERE id = $1", i)[0].decode("note")) }
        XCTAssertEqual(seen, ["n1", "n2", nil, "n4", "n5"])
        XCTAssertEqual(try preparedCount("INSERT INTO t %"), 1)
        XCTAssertEqual(try preparedCount("SELECT note FROM t %"), 1)
        // Seen once: not prepared. Utility statements: never.
        _ = try connection.query("SELECT count(*) AS n FROM t WHERE id > $1", 0)
        XCTAssertEqual(try preparedCount("SELECT count(*) AS n FROM t %"), 0)
        for _ in 0..<3 { try connection.transaction { _ in } }
        XCTAssertEqual(try preparedCount("BEGIN%"), 0)
    }

    func testAStatementFailsWithItsOwnErrorWhetherPreparedOrNot() throws {
        try connection.execute("CREATE TABLE u (id int PRIMARY KEY CHECK (id > 0))")
        for attempt in 1...3 {
            XCTAssertThrowsError(try connection.execute("INSERT INTO u (id) VALUES ($1)", -attempt)) {
                XCTAssertTrue(($0 as? PostgresError)?.isCheckViolation == true, "\($0)")
            }
            XCTAssertThrowsError(try connection.execute("SELECT nope FROM u WHERE id = $1", attempt)) {
                XCTAssertEqual(($0 as? PostgresError)?.serverError?.sqlState, "42703", "\($0)")
            }
        }
        // Inside a transaction too: the refusal is the statement's, not "transaction aborted".
        for _ in 0..<2 {
            XCTAssertThrowsError(try connection.transaction { conn in try conn.execute("SELECT nope2 FROM u WHERE id = $1", 1) }) {
                XCTAssertEqual(($0 as? PostgresError)?.serverError?.sqlState, "42703", "\($0)")
            }
        }
        // In a failed transaction a prepared statement reports the aborted transaction, and the
        // session works again after the rollback.
        XCTAssertThrowsError(try connection.transaction { conn -> Void in
            _ = try? conn.execute("INSERT INTO u (id) VALUES ($1)", -9)
            try conn.execute("INSERT INTO u (id) VALUES ($1)", 9)
        }) { XCTAssertEqual(($0 as? PostgresError)?.serverError?.sqlState, "25P02", "\($0)") }
        try connection.execute("INSERT INTO u (id) VALUES ($1)", 10)
        XCTAssertEqual(try connection.query("SELECT id FROM u").map { try $0.decode("id", as: Int.self) }, [10])
    }

    func testTablesThatChangeOrAreRecreatedAreFollowed() throws {
        // The import merge's pattern: a temporary table dropped at commit and made again.
        for round in 1...4 {
            try connection.transaction { conn in
                try conn.execute("CREATE TEMP TABLE batch (n int) ON COMMIT DROP")
                try conn.execute("INSERT INTO batch SELECT generate_series(1, $1::int)", round)
                XCTAssertEqual(try conn.query("SELECT count(*) AS c FROM batch WHERE n > $1", 0)[0].decode("c", as: Int.self), round)
            }
        }
        // A column added under a prepared SELECT *: at most one refusal (0A000), then the new shape.
        try connection.execute("CREATE TABLE v (a int)")
        try connection.execute("INSERT INTO v VALUES (1)")
        for _ in 0..<3 { XCTAssertEqual(try connection.query("SELECT * FROM v WHERE a = $1", 1)[0].columns.count, 1) }
        try connection.execute("ALTER TABLE v ADD COLUMN b int")
        let shape = { () -> Result<Int, PostgresError> in
            Result { () throws(PostgresError) -> Int in try self.connection.query("SELECT * FROM v WHERE a = $1", 1)[0].columns.count }
        }
        var outcome = shape()
        if case .failure(let error) = outcome {
            XCTAssertEqual(error.serverError?.sqlState, "0A000", "\(error)")
            outcome = shape()
        }
        XCTAssertEqual(try outcome.get(), 2)
    }

    func testTheCacheStaysWithinItsCapacity() throws {
        let capacity = PreparedStatementCache().capacity
        for i in 0..<(capacity + 40) {
            let sql = "SELECT \(i) + $1::int AS n"
            for _ in 0..<2 { XCTAssertEqual(try connection.query(sql, 1)[0].decode("n", as: Int.self), i + 1) }
        }
        let count: Int = try connection.query("SELECT count(*) AS n FROM pg_prepared_statements")[0].decode("n")
        XCTAssertLessThanOrEqual(count, capacity)
        XCTAssertGreaterThan(count, 0)
    }

    func testAStatementIsPreparedAgainAsItAgesEachTimeLaterUpToTheLongest() {
        var cache = PreparedStatementCache(firstReplan: 2, longestReplan: 10)
        let key = PreparedStatementCache.Key(sql: "SELECT 1 WHERE $1::int > 0", types: [23])
        let second: UInt64 = 1_000_000_000
        XCTAssertEqual("\(cache.plan(for: key, now: 0))", "unnamed")
        guard case .prepare(let name) = cache.plan(for: key, now: 0) else { return XCTFail("a repeat is prepared") }
        cache.remember(key, as: name, now: 0)
        var replans: [UInt64] = []
        for t in stride(from: UInt64(0), through: 40, by: 1) {
            switch cache.plan(for: key, now: t * second) {
            case .execute(let n): XCTAssertEqual(n, name)
            case .replan(let n):
                XCTAssertEqual(n, name)
                replans.append(t)
                cache.replanned(key, now: t * second)
            default: XCTFail("at \(t) s")
            }
        }
        XCTAssertEqual(replans, [2, 6, 14, 24, 34], "after 2 s, then 4, 8, then every 10")
    }

    func testAPreparedStatementIsPlannedAgainOnTheServerAndStillAnswersTheSame() throws {
        connection.statements = PreparedStatementCache(firstReplan: 0.2, longestReplan: 0.2)
        try connection.execute("CREATE TABLE g (id int PRIMARY KEY, note text)")
        try connection.execute("INSERT INTO g SELECT n, 'n' || n FROM generate_series(1, 3) n")
        let sql = "SELECT note FROM g WHERE id = ANY($1::int[]) ORDER BY id"
        func preparedAt() throws -> [Date] {
            try connection.query("SELECT prepare_time FROM pg_prepared_statements WHERE statement = $1", sql)
                .map { try $0.decode("prepare_time") }
        }
        for _ in 0..<2 { XCTAssertEqual(try connection.query(sql, [1, 3]).map { try $0.decode("note", as: String.self) }, ["n1", "n3"]) }
        let first = try preparedAt()
        XCTAssertEqual(first.count, 1)
        Thread.sleep(forTimeInterval: 0.3)
        // Inside a transaction too: the re-prepare is not the transaction's business.
        try connection.transaction { conn in
            try conn.execute("INSERT INTO g VALUES (4, 'n4')")
            XCTAssertEqual(try conn.query(sql, [3, 4]).map { try $0.decode("note", as: String.self) }, ["n3", "n4"])
        }
        let second = try preparedAt()
        XCTAssertEqual(second.count, 1, "the same name, prepared again")
        XCTAssertGreaterThan(second[0], first[0])
        XCTAssertEqual(try connection.query(sql, [4]).map { try $0.decode("note", as: String.self) }, ["n4"])
    }

    func testOnlyDataStatementsAreNamed() {
        for sql in ["SELECT 1", "  select 1", "\n(SELECT 1)", "WITH x AS (SELECT 1) SELECT * FROM x", "insert into t values (1)",
                    "UPDATE t SET a = 1", "DELETE FROM t"] {
            XCTAssertTrue(PreparedStatementCache.isDataStatement(sql), sql)
        }
        for sql in ["BEGIN", "COMMIT", "SET LOCAL x = 1", "CREATE TABLE t (a int)", "COPY t FROM STDIN", "SELECTED", "selectx 1", ""] {
            XCTAssertFalse(PreparedStatementCache.isDataStatement(sql), sql)
        }
    }
}
