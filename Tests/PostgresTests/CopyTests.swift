import Foundation
import XCTest
@testable import Postgres

final class CopyTests: XCTestCase {
    private var schema = ""
    private var connection: PostgresConnection!

    override func setUpWithError() throws {
        schema = TestDatabase.uniqueSchema("copy")
        connection = try TestDatabase.connection(schema: schema)
        try connection.execute("CREATE TABLE items (id bigint PRIMARY KEY, name text, amount numeric, seen timestamptz)")
    }

    override func tearDown() {
        connection?.close()
        TestDatabase.dropSchema(schema)
    }

    private func count() throws -> Int {
        try connection.query("SELECT count(*) AS n FROM items").first!.decode("n", as: Int.self)
    }

    func testCopyOfOneHundredThousandRows() throws {
        let special = "tab\there\nnew line\\back slash \\N 你好 🏦 \r end"
        let rows = (1...100_000).lazy.map { i -> [String?] in
            [String(i), i == 7 ? special : (i % 10 == 0 ? nil : "name \(i)"), "\(i).25", "2024-01-01 00:00:00.\(String(format: "%06d", i % 1_000_000))+00"]
        }
        let started = Date()
        let copied = try connection.copyFrom("COPY items (id, name, amount, seen) FROM STDIN", rows: rows)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(copied, 100_000)
        XCTAssertEqual(try count(), 100_000)
        XCTAssertLessThan(elapsed, 20)
        let row = try connection.query("SELECT name, amount, seen FROM items WHERE id = 7").first!
        XCTAssertEqual(try row.decode("name", as: String.self), special)
        XCTAssertEqual(try row.decode("amount", as: Decimal.self), Decimal(string: "7.25"))
        XCTAssertEqual(PostgresTimestamp.microseconds(try row.decode("seen", as: Date.self)), 1_704_067_200_000_007)
        XCTAssertEqual(try connection.query("SELECT count(*) AS n FROM items WHERE name IS NULL").first!.decode("n", as: Int.self), 10_000)
    }

    func testBadRowErrorsCleanlyAndConnectionStaysUsable() throws {
        let rows: [[String?]] = [["1", "ok", "1", nil], ["not-a-number", "bad", "2", nil], ["3", "ok", "3", nil]]
        XCTAssertThrowsError(try connection.copyFrom("COPY items (id, name, amount, seen) FROM STDIN", rows: rows)) { error in
            let server = (error as? PostgresError)?.serverError
            XCTAssertEqual(server?.sqlState, "22P02", "\(error)")
            XCTAssertTrue(server?.message.contains("not-a-number") == true, "\(error)")
        }
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try count(), 0, "nothing of a failed COPY remains")

        // Wrong column count and a duplicate key, sent as raw chunks.
        XCTAssertThrowsError(try connection.copyFrom("COPY items (id, name) FROM STDIN", chunks: [Array("1\ta\textra\n".utf8)])) { error in
            XCTAssertEqual((error as? PostgresError)?.serverError?.sqlState, "22P04", "\(error)")
        }
        XCTAssertThrowsError(try connection.copyFrom("COPY items (id, name) FROM STDIN", chunks: [Array("1\ta\n1\tb\n".utf8)])) { error in
            XCTAssertTrue((error as? PostgresError)?.isUniqueViolation == true, "\(error)")
        }
        // A bad row far into a large COPY (the server fails while data is still streaming).
        let many = (1...50_000).map { i -> [String?] in [i == 40_000 ? "x" : String(i), "n", nil, nil] }
        XCTAssertThrowsError(try connection.copyFrom("COPY items (id, name, amount, seen) FROM STDIN", rows: many)) { error in
            XCTAssertEqual((error as? PostgresError)?.serverError?.sqlState, "22P02", "\(error)")
        }
        XCTAssertEqual(try count(), 0)
        // Not a COPY statement, and a COPY naming a missing table.
        XCTAssertThrowsError(try connection.copyFrom("SELECT 1", rows: [[String?]]())) { error in
            guard case PostgresError.invalidState? = error as? PostgresError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try connection.copyFrom("COPY nope FROM STDIN", rows: [[String?]]())) { error in
            XCTAssertEqual((error as? PostgresError)?.serverError?.sqlState, "42P01", "\(error)")
        }
        XCTAssertEqual(try connection.query("SELECT 1 AS one").first?.decode("one", as: Int.self), 1)
    }

    func testChunksSplitMidRowAndTypedValues() throws {
        let data = Array("1\talpha\n2\tbe\\tta\n3\t\\N\n".utf8)
        let chunks = stride(from: 0, to: data.count, by: 5).map { Array(data[$0..<min($0 + 5, data.count)]) }
        XCTAssertEqual(try connection.copyFrom("COPY items (id, name) FROM STDIN", chunks: chunks), 3)
        XCTAssertEqual(try connection.query("SELECT name FROM items WHERE id = 2").first?.decode("name", as: String.self), "be\tta")
        XCTAssertNil(try connection.query("SELECT name FROM items WHERE id = 3").first?.decode("name", as: String?.self))

        let when = Date(timeIntervalSince1970: 1_709_231_399.123456)
        let values: [[(any PostgresEncodable)?]] = [[10, "typed", Decimal(string: "12345678901234567890.123456789"), when],
                                                   [11, nil, nil, nil]]
        XCTAssertEqual(try connection.copyFrom("COPY items (id, name, amount, seen) FROM STDIN", values: values), 2)
        let row = try connection.query("SELECT amount, seen FROM items WHERE id = 10").first!
        XCTAssertEqual(try row.decode("amount", as: Decimal.self).description, "12345678901234567890.123456789")
        XCTAssertEqual(PostgresTimestamp.microseconds(try row.decode("seen", as: Date.self)), 1_709_231_399_123_456)

        // A value that cannot be encoded aborts the whole COPY.
        let unencodable: [[(any PostgresEncodable)?]] = [[20, "fine", nil, nil], [21, "x", nil, Date(timeIntervalSince1970: .infinity)]]
        XCTAssertThrowsError(try connection.copyFrom("COPY items (id, name, amount, seen) FROM STDIN", values: unencodable)) { error in
            guard case PostgresError.invalidParameter(let index, _)? = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertEqual(index, 4)
        }
        XCTAssertEqual(try connection.query("SELECT count(*) AS n FROM items WHERE id >= 20").first?.decode("n", as: Int.self), 0)
        XCTAssertNoThrow(try connection.ping())
    }
}
