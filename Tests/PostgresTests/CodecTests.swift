import Foundation
import XCTest
@testable import Postgres

/// Text codecs without a server: timestamps, numerics, array literals, COPY escaping.
final class CodecTests: XCTestCase {
    private func date(_ text: String, naive: Bool = false) throws -> Date {
        try PostgresTimestamp.parse(text, naiveIsUTC: naive).get()
    }

    func testTimestampParsing() throws {
        // 2024-02-29T18:29:59.123456Z = 1709231399.123456
        let expected = 1_709_231_399.123456
        XCTAssertEqual(try date("2024-02-29 23:59:59.123456+05:30").timeIntervalSince1970, expected, accuracy: 1e-6)
        XCTAssertEqual(try date("2024-02-29T18:29:59.123456Z").timeIntervalSince1970, expected, accuracy: 1e-6)
        XCTAssertEqual(try date("2024-02-29 18:29:59.123456+00").timeIntervalSince1970, expected, accuracy: 1e-6)
        XCTAssertEqual(try date("2024-02-29 14:29:59.123456-04").timeIntervalSince1970, expected, accuracy: 1e-6)
        XCTAssertEqual(try date("1970-01-01 00:00:00+00").timeIntervalSince1970, 0)
        XCTAssertEqual(try date("1969-12-31 23:59:59.999999+00").timeIntervalSince1970, -0.000001, accuracy: 1e-7)
        // Historical local mean time offsets carry seconds.
        XCTAssertEqual(try date("1900-01-01 00:00:00+00:53:28").timeIntervalSince1970, -2_208_988_800 - 3208)
        // Nanoseconds round to microseconds.
        XCTAssertEqual(try date("2000-01-01T00:00:00.0000005Z").timeIntervalSince1970, 946_684_800.000001, accuracy: 1e-7)
        // No offset: only for timestamp/date columns.
        XCTAssertEqual(try date("2000-01-01 00:00:00", naive: true).timeIntervalSince1970, 946_684_800)
        XCTAssertEqual(try date("2000-01-01", naive: true).timeIntervalSince1970, 946_684_800)
        XCTAssertThrowsError(try date("2000-01-01 00:00:00"))
        // BC and five-digit years.
        XCTAssertEqual(try date("0001-01-01 00:00:00+00 BC").timeIntervalSince1970, -62_167_219_200)
        XCTAssertEqual(try date("10000-01-01 00:00:00+00").timeIntervalSince1970, 253_402_300_800)
        for bad in ["", "infinity", "2024-02-30 00:00:00+00", "2023-02-29 00:00:00+00", "2024-13-01 00:00:00+00",
                    "2024-01-01 24:00:00+00", "2024-01-01 00:00:00+00 junk", "2024-1-01 00:00:00+00", "2024-01-01 00:00+00",
                    "2024-01-01 00:00:00.+00", "2024-01-01 00:00:00+99"] {
            XCTAssertThrowsError(try date(bad), "'\(bad)' must be refused")
        }
    }

    func testTimestampFormattingRoundTrips() throws {
        let samples: [Double] = [0, 1_709_231_399.123456, -0.000001, 946_684_800.5, -62_198_755_200, 253_402_300_800.999999,
                                 -2_208_988_800.25]
        for seconds in samples {
            let original = Date(timeIntervalSince1970: seconds)
            let text = try XCTUnwrap(PostgresTimestamp.format(original))
            let back = try date(text)
            XCTAssertEqual(PostgresTimestamp.microseconds(back), PostgresTimestamp.microseconds(original), text)
        }
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: 1_709_231_399.123456)), "2024-02-29 18:29:59.123456+00")
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: -62_167_219_200)), "0001-01-01 00:00:00.000000+00 BC")
        XCTAssertNil(PostgresTimestamp.format(Date(timeIntervalSince1970: .infinity)))
    }

    func testNumericParsingIsExact() throws {
        let big = try XCTUnwrap(PostgresNumeric.parse("12345678901234567890.123456789"))
        XCTAssertEqual(big.description, "12345678901234567890.123456789")
        XCTAssertEqual(PostgresNumeric.parse("-0.000000000000000000000000000001")?.description, "-0.000000000000000000000000000001")
        XCTAssertEqual(PostgresNumeric.parse("1.50")?.description, "1.5")
        XCTAssertEqual(PostgresNumeric.parse("-0.00")?.description, "0")
        XCTAssertEqual(PostgresNumeric.parse("100")?.description, "100")
        XCTAssertEqual(PostgresNumeric.parse("99999999999999999999999999999999999999")?.description,
                       "99999999999999999999999999999999999999")
        XCTAssertTrue(PostgresNumeric.parse("NaN")?.isNaN == true)
        // 39 significant digits do not fit: refused, never rounded.
        XCTAssertNil(PostgresNumeric.parse("123456789012345678901234567890.123456789"))
        for bad in ["", "-", ".", "1.2.3", "1e5", "Infinity", "12a", " 1"] {
            XCTAssertNil(PostgresNumeric.parse(bad), bad)
        }
    }

    /// The byte-level path for short mantissas must agree with the general one on every value it takes.
    func testShortNumericPathAgreesWithTheGeneralOne() {
        var rng = SystemRandomNumberGenerator()
        var texts = ["0", "0.0", "-0", "00012.3400", "1", "10", "1000000", "0.05", "-0.000001", "9999999999999999999",
                     "999999999999999999.9", "123.4567890123456789", "5000000.01", "-42.10"]
        for _ in 0..<5_000 {
            let integer = String(UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
            let fraction = String(UInt32.random(in: 0...UInt32.max, using: &rng) >> UInt32.random(in: 0...31, using: &rng))
            let zeros = String(repeating: "0", count: Int.random(in: 0...3, using: &rng))
            let sign = Bool.random(using: &rng) ? "-" : ""
            texts.append(Bool.random(using: &rng) ? sign + integer : sign + integer + "." + zeros + fraction + zeros)
        }
        for text in texts {
            let general = PostgresNumeric.parseGeneral(text)
            if let short = PostgresNumeric.parseShort(text) {
                XCTAssertEqual(short, general, text)
                XCTAssertEqual(short.description, general?.description, text)
            }
            XCTAssertEqual(PostgresNumeric.parse(text)?.description, general?.description, text)
        }
        XCTAssertNotNil(PostgresNumeric.parseShort("5000000.01"))     // the fast path is taken
        XCTAssertNil(PostgresNumeric.parseShort("12345678901234567890"))   // 20 digits: the general path
    }

    func testArrayLiteralParsing() throws {
        func parse(_ text: String) throws -> [String?] {
            try PostgresArrayLiteral.parse(Array(text.utf8)[...]).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
        XCTAssertEqual(try parse("{}"), [])
        XCTAssertEqual(try parse("{a,b}"), ["a", "b"])
        XCTAssertEqual(try parse(#"{"a,b","c\"d","e\\f",NULL,"NULL",""}"#), ["a,b", "c\"d", "e\\f", nil, "NULL", ""])
        XCTAssertEqual(try parse("{ x , y }"), ["x", "y"])
        XCTAssertEqual(try parse("[0:1]={7,8}"), ["7", "8"])
        XCTAssertEqual(try parse("{{1,2},{3,4}}"), ["{1,2}", "{3,4}"])
        XCTAssertEqual(try parse(#"{"{not nested}"}"#), ["{not nested}"])
        for bad in ["", "{", "{a", "{a,}", "a,b", "{\"a}", "{a}x", "{{1,2}", "{a\\"] {
            XCTAssertThrowsError(try parse(bad), "'\(bad)' must be refused")
        }
    }

    func testArrayEncodingQuotesEverything() throws {
        XCTAssertEqual(try ["a", "b,c", "d\"e", "f\\g", "", "NULL"].postgresText(), #"{"a","b,c","d\"e","f\\g","","NULL"}"#)
        XCTAssertEqual(try ([1, nil, 3] as [Int?]).postgresText(), #"{"1",NULL,"3"}"#)
        XCTAssertEqual(try ([] as [Int]).postgresText(), "{}")
        XCTAssertEqual([Int].postgresType, PostgresType.int8Array)
        XCTAssertEqual([String?].postgresType, PostgresType.textArray)
    }

    func testCopyTextEscaping() {
        let line = PostgresCopyText.encodeRow(["a\tb", "c\nd", "e\\f", nil, "g\rh", "\\N", ""])
        XCTAssertEqual(String(decoding: line, as: UTF8.self), "a\\tb\tc\\nd\te\\\\f\t\\N\tg\\rh\t\\\\N\t\n")
    }

    func testByteaHex() {
        XCTAssertEqual(PostgresBytea.hex([0x00, 0xab, 0xff]), "\\x00abff")
        XCTAssertEqual(PostgresBytea.decodeHex(Array("\\x00ABff".utf8)[...]), [0x00, 0xab, 0xff])
        XCTAssertNil(PostgresBytea.decodeHex(Array("\\x0".utf8)[...]))
        XCTAssertNil(PostgresBytea.decodeHex(Array("\\xzz".utf8)[...]))
        XCTAssertNil(PostgresBytea.decodeHex(Array("abcd".utf8)[...]))
    }
}
