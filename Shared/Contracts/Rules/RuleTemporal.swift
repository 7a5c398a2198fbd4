import Foundation

/// A calendar date `YYYY-MM-DD` (proleptic Gregorian, years 0001–9999), with no time zone of its own.
struct CalendarDay: Sendable, Hashable, Comparable {
    let year: Int
    let month: Int
    let day: Int

    /// Exactly `YYYY-MM-DD` naming a real date (no `2026-02-30`); nil otherwise.
    static func parse<S: StringProtocol>(_ text: S) -> CalendarDay? {
        let b = Array(text.utf8.prefix(11))
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = digits(b[0 ..< 4]), let m = digits(b[5 ..< 7]), let d = digits(b[8 ..< 10]) else { return nil }
        guard y >= 1, m >= 1, m <= 12, d >= 1, d <= daysIn(month: m, year: y) else { return nil }
        return CalendarDay(year: y, month: m, day: d)
    }

    static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Days since 1970-01-01.
    var daysSinceEpoch: Int { CivilDays.days(year: year, month: month, day: day) }

    init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The day `days` after 1970-01-01.
    init(daysSinceEpoch days: Int) {
        let (y, m, d) = CivilDays.date(days: days)
        self.init(year: y, month: m, day: d)
    }

    /// The local date of `instant` in `timeZone`.
    init(containing instant: Date, in timeZone: TimeZone) {
        let local = instant.timeIntervalSince1970 + TimeInterval(timeZone.secondsFromGMT(for: instant))
        let days = (local / 86_400).rounded(.down)
        // Clamp: instants far outside years 1–9999 are not produced by our parsers, but a caller's Date may be.
        self.init(daysSinceEpoch: Int(max(-1_000_000, min(3_000_000, days))))
    }

    /// The first instant of this day in `calendar`'s time zone (midnight, or the first valid time when a
    /// daylight-saving change skips midnight).
    func start(in calendar: Calendar) -> Date {
        if let date = calendar.date(from: DateComponents(year: year, month: month, day: day)) { return date }
        let utcMidnight = TimeInterval(daysSinceEpoch) * 86_400
        let offset = calendar.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: utcMidnight))
        return Date(timeIntervalSince1970: utcMidnight - TimeInterval(offset))
    }

    /// The first instant of the next day.
    func end(in calendar: Calendar) -> Date {
        CalendarDay(daysSinceEpoch: daysSinceEpoch + 1).start(in: calendar)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for b in bytes {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(b - UInt8(ascii: "0"))
        }
        return value
    }
}

/// Strict RFC 3339 timestamps: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
///
/// Stricter than `Date.ISO8601FormatStyle`, which accepts `2026-02-30`, hour 25 and trailing junk:
/// a value that is not exactly a timestamp must not silently compare as one. `T` and `Z` may be lower
/// case (RFC 3339 §5.6); the fraction has 1–9 digits; leap second 60 is refused.
enum RFC3339 {
    static func parse<S: StringProtocol>(_ text: S) -> Date? {
        let b = Array(text.utf8.prefix(36))
        guard b.count >= 20, b.count <= 35,
              let day = CalendarDay.parse(String(decoding: b[0 ..< 10], as: UTF8.self)),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let hour = CalendarDay.digits(b[11 ..< 13]), let minute = CalendarDay.digits(b[14 ..< 16]),
              let second = CalendarDay.digits(b[17 ..< 19]),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var i = 19
        var fraction = 0.0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                fraction += Double(b[i] - UInt8(ascii: "0")) * scale
                scale /= 10
                i += 1
            }
            guard i > start, i - start <= 9, i < b.count else { return nil }
        }
        let offset: Int
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            guard i + 1 == b.count else { return nil }
            offset = 0
        } else {
            guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), i + 6 == b.count,
                  b[i + 3] == UInt8(ascii: ":"),
                  let oh = CalendarDay.digits(b[i + 1 ..< i + 3]), let om = CalendarDay.digits(b[i + 4 ..< i + 6]),
                  oh <= 23, om <= 59 else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        let seconds = day.daysSinceEpoch * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
    }
}

/// Proleptic Gregorian dates as day counts since 1970-01-01 (Howard Hinnant's `days_from_civil` and
/// `civil_from_days`): plain arithmetic for code that turns millions of dates into days.
public enum CivilDays {
    /// Days since 1970-01-01 of `year-month-day` (month 1…12).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    public static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
