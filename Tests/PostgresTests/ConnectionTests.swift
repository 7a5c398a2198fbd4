import Foundation
import XCTest
@testable import Postgres

private struct Order: Codable, Equatable {
    var id: Int
    var note: String
    var tags: [String]
    var amount: Decimal?
}

/// Typed round trips against the real server.
final class ConnectionTests: XCTestCase {
    private var schema = ""
    private var connection: PostgresConnection!

    override func setUpWithError() throws {
        schema = TestDatabase.uniqueSchema("conn")
        connection = try TestDatabase.connection(schema: schema)
    }

    override func tearDown() {
        connection?.close()
        TestDatabase.dropSchema(schema)
    }

    private func one(_ sql: String, _ binds: (any PostgresEncodable)?...) throws -> PostgresRow {
        let rows = try connection.query(sql, binds: binds)
        XCTAssertEqual(rows.count, 1)
        return try XCTUnwrap(rows.first)
    }

    func testIntegers() throws {
        let row = try one("SELECT 32767::smallint AS s, 2147483647::int AS i, 9223372036854775807::bigint AS b, NULL::int AS n")
        XCTAssertEqual(try row.decode("s", as: Int16.self), 32767)
        XCTAssertEqual(try row.decode("i", as: Int32.self), 2_147_483_647)
        XCTAssertEqual(try row.decode("b", as: Int64.self), Int64.max)
        XCTAssertEqual(try row.decode("b", as: Int.self), Int.max)
        XCTAssertEqual(try row.decode(0, as: Int.self), 32767)
        XCTAssertNil(try row.decode("n", as: Int?.self))
        XCTAssertEqual(try row.decode("i", as: Int?.self), 2_147_483_647)

        let echoed = try one("SELECT $1::bigint AS a, $2::int AS b, $3::smallint AS c, $4 + 1 AS d", Int.min, Int32.min, Int16(-5), 41)
        XCTAssertEqual(try echoed.decode("a", as: Int.self), Int.min)
        XCTAssertEqual(try echoed.decode("b", as: Int32.self), Int32.min)
        XCTAssertEqual(try echoed.decode("c", as: Int16.self), -5)
        XCTAssertEqual(try echoed.decode("d", as: Int.self), 42)
    }

    func testDecodingMismatchNamesColumnAndType() throws {
        let row = try one("SELECT 9223372036854775807::bigint AS big, 'abc'::text AS word, NULL::text AS nothing, true AS flag")
        assertDecodingError(try row.decode("big", as: Int32.self), column: "big", postgresType: "bigint")
        assertDecodingError(try row.decode("word", as: Int.self), column: "word", postgresType: "text")
        assertDecodingError(try row.decode("nothing", as: String.self), column: "nothing", postgresType: "text")
        assertDecodingError(try row.decode("flag", as: Int.self), column: "flag", postgresType: "boolean")
        assertDecodingError(try row.decode("word", as: UUID.self), column: "word", postgresType: "text")
        assertDecodingError(try row.decode("missing", as: Int.self), column: "missing", postgresType: "-")
        assertDecodingError(try row.decode(9, as: Int.self), column: "#9", postgresType: "-")
    }

    func testNumericIsExact() throws {
        let text = "12345678901234567890.123456789"
        let row = try one("SELECT \(text)::numeric AS literal, $1::numeric AS bound, $1::numeric = \(text)::numeric AS same,"
                          + " 0.1::numeric + 0.2::numeric AS sum, NULL::numeric AS n, 'NaN'::numeric AS nan,"
                          + " 1234567890123456789012345678901234567890.5::numeric AS huge",
                          try XCTUnwrap(Decimal(string: text)))
        XCTAssertEqual(try row.decode("literal", as: Decimal.self).description, text)
        XCTAssertEqual(try row.decode("bound", as: Decimal.self).description, text)
        XCTAssertTrue(try row.decode("same", as: Bool.self))
        XCTAssertEqual(try row.decode("sum", as: Decimal.self), Decimal(string: "0.3"))
        XCTAssertNil(try row.decode("n", as: Decimal?.self))
        XCTAssertTrue(try row.decode("nan", as: Decimal.self).isNaN)
        assertDecodingError(try row.decode("huge", as: Decimal.self), column: "huge", postgresType: "numeric")
    }

    func testTextUnicodeAndBool() throws {
        let tricky = "Grüße 你好 🏦 'single' \"double\" back\\slash\ttab\nnewline $1 %s"
        let row = try one("SELECT $1::text AS t, length($1::text) AS n, $2::bool AS yes, $3::bool AS no, NULL::bool AS unknown,"
                          + " $4::text AS empty", tricky, true, false, "")
        XCTAssertEqual(try row.decode("t", as: String.self), tricky)
        XCTAssertEqual(try row.decode("n", as: Int.self), tricky.count)
        XCTAssertTrue(try row.decode("yes", as: Bool.self))
        XCTAssertFalse(try row.decode("no", as: Bool.self))
        XCTAssertNil(try row.decode("unknown", as: Bool?.self))
        XCTAssertEqual(try row.decode("empty", as: String.self), "")
        XCTAssertFalse(row.isNull("empty"))

        XCTAssertThrowsError(try connection.query("SELECT $1::text", "nul\0byte")) { error in
            guard case PostgresError.invalidParameter(let index, _)? = error as? PostgresError else {
                return XCTFail("expected invalidParameter, got \(error)")
            }
            XCTAssertEqual(index, 1)
        }
    }

    func testTimestampsWithMicrosecondsAndZones() throws {
        let row = try one("SELECT '2024-02-29 23:59:59.123456+05:30'::timestamptz AS t, '0044-03-15 12:00:00+00 BC'::timestamptz AS bc,"
                          + " '2001-02-03 04:05:06.7'::timestamp AS naive, '2024-02-29'::date AS d, NULL::timestamptz AS n")
        let t = try row.decode("t", as: Date.self)
        XCTAssertEqual(PostgresTimestamp.microseconds(t), 1_709_231_399_123_456)
        XCTAssertEqual(try row.decode("t", as: String.self), "2024-02-29 18:29:59.123456+00", "session runs in UTC")
        XCTAssertEqual(PostgresTimestamp.microseconds(try row.decode("bc", as: Date.self)), -63_517_780_800_000_000)
        XCTAssertEqual(PostgresTimestamp.microseconds(try row.decode("naive", as: Date.self)), 981_173_106_700_000)
        XCTAssertEqual(try row.decode("d", as: Date.self).timeIntervalSince1970, 1_709_164_800)
        XCTAssertNil(try row.decode("n", as: Date?.self))

        // Date → timestamptz → Date keeps every microsecond, and the server agrees on the instant.
        let original = Date(timeIntervalSince1970: 1_709_231_399.654321)
        let echoed = try one("SELECT $1::timestamptz AS t, $1::timestamptz = '2024-02-29 18:29:59.654321Z'::timestamptz AS same,"
                             + " extract(microseconds FROM $1::timestamptz)::int AS us", original)
        XCTAssertEqual(PostgresTimestamp.microseconds(try echoed.decode("t", as: Date.self)), 1_709_231_399_654_321)
        XCTAssertTrue(try echoed.decode("same", as: Bool.self))
        XCTAssertEqual(try echoed.decode("us", as: Int.self), 59_654_321)

        // Another session time zone still decodes to the same instant.
        try connection.execute("SET TIME ZONE 'Asia/Shanghai'")
        let shanghai = try one("SELECT '2024-02-29 18:29:59.123456Z'::timestamptz AS t")
        XCTAssertEqual(try shanghai.decode("t", as: String.self), "2024-03-01 02:29:59.123456+08")
        XCTAssertEqual(PostgresTimestamp.microseconds(try shanghai.decode("t", as: Date.self)), 1_709_231_399_123_456)
        assertDecodingError(try one("SELECT 'infinity'::timestamptz AS inf").decode("inf", as: Date.self),
                            column: "inf", postgresType: "timestamptz")
    }

    func testUUIDAndBytea() throws {
        let id = UUID()
        let bytes = Data((0...255).map { UInt8($0) })
        let row = try one("SELECT $1::uuid AS id, $2::bytea AS b, length($2::bytea) AS n, ''::bytea AS empty, NULL::uuid AS nid,"
                          + " 'abc'::text AS notbytes", id, bytes)
        XCTAssertEqual(try row.decode("id", as: UUID.self), id)
        XCTAssertEqual(try row.decode("b", as: Data.self), bytes)
        XCTAssertEqual(try row.decode("b", as: PostgresBytes.self).bytes, Array(bytes))
        XCTAssertEqual(try row.decode("n", as: Int.self), 256)
        XCTAssertEqual(try row.decode("empty", as: Data.self), Data())
        XCTAssertNil(try row.decode("nid", as: UUID?.self))
        assertDecodingError(try row.decode("notbytes", as: Data.self), column: "notbytes", postgresType: "text")
        let stored = try one("SELECT $1::bytea = '\\x00ff'::bytea AS same", PostgresBytes([0x00, 0xff]))
        XCTAssertTrue(try stored.decode("same", as: Bool.self))
    }

    func testJSONB() throws {
        try connection.execute("CREATE TABLE orders (id bigint PRIMARY KEY, body jsonb NOT NULL, extra jsonb)")
        let order = Order(id: 7, note: "Grüße \"quoted\" \\ 🏦", tags: ["a", "b"], amount: Decimal(string: "12.34"))
        try connection.execute("INSERT INTO orders (id, body, extra) VALUES ($1, $2, NULL)", 7, PostgresJSON(order))
        let row = try one("SELECT body, extra, body->>'note' AS note, jsonb_typeof(body) AS kind FROM orders WHERE id = $1", 7)
        XCTAssertEqual(try row.decodeJSON("body", as: Order.self), order)
        XCTAssertEqual(try row.decode("body", as: PostgresJSON<Order>.self).value, order)
        XCTAssertNil(try row.decode("extra", as: PostgresJSON<Order>?.self))
        XCTAssertEqual(try row.decode("note", as: String.self), order.note)
        XCTAssertEqual(try row.decode("kind", as: String.self), "object")
        let wrongShape = try one("SELECT '{\"id\": \"seven\"}'::jsonb AS body")
        assertDecodingError(try wrongShape.decodeJSON("body", as: Order.self), column: "body", postgresType: "jsonb")
    }

    func testArrays() throws {
        let texts: [String?] = ["plain", "with,comma", "with \"quotes\"", "back\\slash", "{braces}", "", "NULL", nil, "spa ce", "你好"]
        let row = try one("SELECT $1::text[] AS t, cardinality($1::text[]) AS n, $2::bigint[] AS big, $3::int[] AS small,"
                          + " ARRAY[[1,2],[3,4]] AS grid, '{}'::text[] AS empty, ARRAY[1,NULL,3] AS holes, NULL::int[] AS none,"
                          + " ARRAY['2024-01-01 00:00:00.5+00'::timestamptz] AS times, ARRAY[1.5, 2.25]::numeric[] AS amounts,"
                          + " ARRAY[true,false] AS flags",
                          texts, [Int.max, -1, 0], [Int32(1), Int32(2)])
        XCTAssertEqual(try row.decode("t", as: [String?].self), texts)
        XCTAssertEqual(try row.decode("n", as: Int.self), texts.count)
        XCTAssertEqual(try row.decode("big", as: [Int].self), [Int.max, -1, 0])
        XCTAssertEqual(try row.decode("small", as: [Int32].self), [1, 2])
        XCTAssertEqual(try row.decode("grid", as: [[Int]].self), [[1, 2], [3, 4]])
        XCTAssertEqual(try row.decode("empty", as: [String].self), [])
        XCTAssertEqual(try row.decode("holes", as: [Int?].self), [1, nil, 3])
        XCTAssertNil(try row.decode("none", as: [Int]?.self))
        XCTAssertEqual(try row.decode("times", as: [Date].self).map { PostgresTimestamp.microseconds($0) }, [1_704_067_200_500_000])
        XCTAssertEqual(try row.decode("amounts", as: [Decimal].self), [Decimal(string: "1.5"), Decimal(string: "2.25")])
        XCTAssertEqual(try row.decode("flags", as: [Bool].self), [true, false])
        assertDecodingError(try row.decode("holes", as: [Int].self), column: "holes", postgresType: "integer[]")
        assertDecodingError(try row.decode("t", as: [Int].self), column: "t", postgresType: "text[]")

        // Arrays as parameters of = ANY.
        try connection.execute("CREATE TABLE tags (id bigint, name text)")
        try connection.execute("INSERT INTO tags VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        let picked = try connection.query("SELECT id FROM tags WHERE id = ANY($1) AND name <> ALL($2) ORDER BY id", [1, 2, 3], ["b"])
        XCTAssertEqual(try picked.map { row throws(PostgresError) in try row.decode("id", as: Int.self) }, [1, 3])
    }

    func testServerErrorLeavesConnectionUsable() throws {
        XCTAssertThrowsError(try connection.query("SELECT * FROM no_such_table")) { error in
            XCTAssertEqual((error as? PostgresError)?.serverError?.sqlState, "42P01")
        }
        XCTAssertThrowsError(try connection.query("SELEC 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.serverError?.sqlState, "42601")
        }
        XCTAssertThrowsError(try connection.query("SELECT 1 / $1::int", 0)) { error in
            XCTAssertEqual((error as? PostgresError)?.serverError?.sqlState, "22012")
        }
        XCTAssertEqual(try one("SELECT 1 AS one").decode("one", as: Int.self), 1)
        XCTAssertFalse(connection.isBroken)

        try connection.execute("CREATE TABLE customers (id bigint PRIMARY KEY, email text CONSTRAINT customers_email_key UNIQUE)")
        XCTAssertEqual(try connection.execute("INSERT INTO customers VALUES ($1, $2)", 1, "a@example.com"), 1)
        XCTAssertThrowsError(try connection.execute("INSERT INTO customers VALUES ($1, $2)", 2, "a@example.com")) { error in
            let pg = error as? PostgresError
            XCTAssertTrue(pg?.isUniqueViolation == true, "\(error)")
            XCTAssertEqual(pg?.serverError?.constraint, "customers_email_key")
            XCTAssertEqual(pg?.serverError?.table, "customers")
            XCTAssertNotNil(pg?.serverError?.detail)
            XCTAssertFalse(pg?.isUnavailable ?? true)
        }
        XCTAssertEqual(try connection.execute("UPDATE customers SET email = $1 WHERE id = $2", "b@example.com", 1), 1)
        XCTAssertEqual(try connection.execute("DELETE FROM customers WHERE id = ANY($1)", [1, 2, 3]), 1)
    }

    func testStatementTimeoutIsAServerError() throws {
        var config = try TestDatabase.configuration()
        config.statementTimeout = 0.2
        let short = try PostgresConnection.connect(config)
        defer { short.close() }
        let started = Date()
        XCTAssertThrowsError(try short.query("SELECT pg_sleep(5)")) { error in
            XCTAssertTrue((error as? PostgresError)?.isQueryCanceled == true, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertNoThrow(try short.ping())
    }

    func testTransactionsCommitAndRollBack() throws {
        try connection.execute("CREATE TABLE ledger (id bigint PRIMARY KEY)")
        struct Boom: Error {}
        XCTAssertThrowsError(try connection.transaction { conn in
            try conn.execute("INSERT INTO ledger VALUES (1)")
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertFalse(connection.isInTransaction)

        // A failed statement swallowed inside the body still rolls everything back.
        XCTAssertThrowsError(try connection.transaction { conn in
            try conn.execute("INSERT INTO ledger VALUES (2)")
            _ = try? conn.execute("INSERT INTO ledger VALUES (2)")
        }) { error in
            guard case PostgresError.transactionAborted? = error as? PostgresError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try one("SELECT count(*) AS n FROM ledger").decode("n", as: Int.self), 0)

        let value = try connection.transaction(isolation: .serializable) { conn in
            try conn.execute("INSERT INTO ledger VALUES (3)")
            return "done"
        }
        XCTAssertEqual(value, "done")
        XCTAssertEqual(try one("SELECT count(*) AS n FROM ledger").decode("n", as: Int.self), 1)

        try connection.execute("BEGIN")
        XCTAssertThrowsError(try connection.transaction { _ in }) { error in
            guard case PostgresError.invalidState? = error as? PostgresError else { return XCTFail("\(error)") }
        }
        try connection.execute("ROLLBACK")
    }

    func testConnectFailuresAreTyped() throws {
        var config = try TestDatabase.configuration()
        config.port = 1  // nothing listens there
        XCTAssertThrowsError(try PostgresConnection.connect(config)) { error in
            guard case PostgresError.connectionFailed? = error as? PostgresError else { return XCTFail("\(error)") }
        }
        var wrongDB = try TestDatabase.configuration()
        wrongDB.database = "no_such_database_xyz"
        XCTAssertThrowsError(try PostgresConnection.connect(wrongDB)) { error in
            guard case PostgresError.connectionFailed(let message)? = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("no_such_database_xyz"), message)
        }
        // A black-hole address: the connect deadline is honoured.
        var blackHole = try TestDatabase.configuration()
        blackHole.host = "10.255.255.1"
        blackHole.connectTimeout = 0.5
        let started = Date()
        XCTAssertThrowsError(try PostgresConnection.connect(blackHole))
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)

        let closed = try PostgresConnection.connect(TestDatabase.configuration())
        closed.close()
        XCTAssertTrue(closed.isBroken)
        XCTAssertThrowsError(try closed.ping()) { error in
            guard case PostgresError.connectionLost? = error as? PostgresError else { return XCTFail("\(error)") }
        }
    }
}

func assertDecodingError<T>(_ expression: @autoclosure () throws -> T, column: String, postgresType: String,
                            file: StaticString = #filePath, line: UInt = #line) {
    do {
        let value = try expression()
        XCTFail("expected a decoding error, got \(value)", file: file, line: line)
    } catch let PostgresError.decoding(c, _, p, _) {
        XCTAssertEqual(c, column, file: file, line: line)
        XCTAssertEqual(p, postgresType, file: file, line: line)
    } catch {
        XCTFail("expected a decoding error, got \(error)", file: file, line: line)
    }
}
