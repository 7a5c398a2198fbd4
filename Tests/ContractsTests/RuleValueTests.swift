import Foundation
import TestSupport
import XCTest
@testable import Contracts

/// The value readers under the rule language: strict timestamps, calendar dates, decimal strings.
final class RuleValueTests: XCTestCase {
    func testTimestampsAreReadStrictly() throws {
        XCTAssertEqual(RFC3339.parse("2026-01-31T10:00:00Z")?.timeIntervalSince1970, 1_769_853_600)
        XCTAssertEqual(RFC3339.parse("2026-01-31T18:00:00+08:00"), RFC3339.parse("2026-01-31T10:00:00Z"))
        XCTAssertEqual(RFC3339.parse("2026-01-31T05:30:00-04:30"), RFC3339.parse("2026-01-31T10:00:00Z"))
        XCTAssertEqual(RFC3339.parse("2026-01-31t10:00:00z"), RFC3339.parse("2026-01-31T10:00:00Z"))
        let fractional = try XCTUnwrap(RFC3339.parse("2026-01-31T10:00:00.125Z")).timeIntervalSince1970
        XCTAssertEqual(fractional, 1_769_853_600.125, accuracy: 1e-6)
        XCTAssertNotNil(RFC3339.parse("2026-01-31T10:00:00.123456789Z"))
        XCTAssertEqual(RFC3339.parse("1969-12-31T23:59:59Z")?.timeIntervalSince1970, -1)
        for bad in ["2026-01-31", "2026-01-31T10:00:00", "2026-01-31 10:00:00Z", "2026-02-30T10:00:00Z",
                    "2026-01-31T24:00:00Z", "2026-01-31T10:60:00Z", "2026-01-31T10:00:60Z", "2026-01-31T10:00:00Zjunk",
                    " 2026-01-31T10:00:00Z", "2026-01-31T10:00:00.Z", "2026-01-31T10:00:00.1234567890Z",
                    "2026-01-31T10:00:00+0800", "2026-01-31T10:00:00+24:00", "2026-1-31T10:00:00Z", "0000-01-01T00:00:00Z",
                    "２026-01-31T10:00:00Z", ""] {
            XCTAssertNil(RFC3339.parse(bad), bad)
        }
    }

    func testCalendarDays() throws {
        XCTAssertNotNil(CalendarDay.parse("2024-02-29"))
        XCTAssertNotNil(CalendarDay.parse("2000-02-29"))
        XCTAssertNil(CalendarDay.parse("2023-02-29"))
        XCTAssertNil(CalendarDay.parse("1900-02-29"))
        XCTAssertNil(CalendarDay.parse("2026-13-01"))
        XCTAssertNil(CalendarDay.parse("2026-04-31"))
        XCTAssertNil(CalendarDay.parse("2026-01-31T00:00:00Z"))
        XCTAssertNil(CalendarDay.parse("20260131"))

        // The day arithmetic agrees with Foundation's calendar over a wide range (from 1600: before the
        // 1582 reform Foundation's Gregorian calendar is Julian, ours stays proleptic Gregorian).
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = RuleFixtures.utc
        var random = SplitMix64(seed: 7)
        for _ in 0 ..< 2000 {
            let days = Int.random(in: -135_000 ... 2_900_000, using: &random)
            let day = CalendarDay(daysSinceEpoch: days)
            XCTAssertEqual(day.daysSinceEpoch, days)
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(days) * 86_400))
            XCTAssertEqual([day.year, day.month, day.day], [parts.year, parts.month, parts.day].map { $0 ?? 0 }, "\(days)")
        }

        let instant = RuleFixtures.date("2026-01-31T20:00:00Z")
        XCTAssertEqual(CalendarDay(containing: instant, in: RuleFixtures.shanghai), CalendarDay(year: 2026, month: 2, day: 1))
        XCTAssertEqual(CalendarDay(containing: instant, in: RuleFixtures.utc), CalendarDay(year: 2026, month: 1, day: 31))
        var shanghai = Calendar(identifier: .gregorian)
        shanghai.timeZone = RuleFixtures.shanghai
        XCTAssertEqual(CalendarDay(year: 2026, month: 2, day: 1).start(in: shanghai), RuleFixtures.date("2026-01-31T16:00:00Z"))
        XCTAssertEqual(CalendarDay(year: 2026, month: 2, day: 1).end(in: shanghai), RuleFixtures.date("2026-02-01T16:00:00Z"))
    }

    func testDecimalStrings() {
        for good in ["0", "-0", "5", "500000.00", "-1.5", "0.001", "12345678901234567890123456789012345678"] {
            XCTAssertNotNil(RuleScalar.decimal(parsing: good), good)
        }
        for bad in ["", "-", "05", "00", "1.", ".5", "1e5", "+1", "1,000", " 1", "1 ", "0x10", "NaN", "Infinity",
                    "123456789012345678901234567890123456789", "１"] {
            XCTAssertNil(RuleScalar.decimal(parsing: bad), bad)
        }
        XCTAssertEqual(RuleScalar(classifying: "2026-01-31"), .day(CalendarDay(year: 2026, month: 1, day: 31), "2026-01-31"))
        if case .decimal = RuleScalar(classifying: "20260131") {} else { XCTFail("digits are a decimal") }
        if case .text = RuleScalar(classifying: "C3") {} else { XCTFail("C3 is text") }
        // Binary floats go through their shortest text, so 0.1 is 0.1 exactly.
        XCTAssertEqual(RuleScalar.decimal(of: 0.1), RuleScalar.decimal(parsing: "0.1"))
        XCTAssertNil(RuleScalar.decimal(of: .nan))
        let comparison = ValueComparison(timeZone: RuleFixtures.utc)
        XCTAssertNil(comparison.compare(.number(.nan, nil), .number(1, 1)), "NaN compares with nothing")
        XCTAssertNil(comparison.compare(.number(1e300, nil), RuleScalar(classifying: "1")), "a number beyond Decimal is incomparable with a decimal string")
        XCTAssertEqual(comparison.compare(.number(1e300, nil), .number(1, 1)), .orderedDescending)
    }
}
