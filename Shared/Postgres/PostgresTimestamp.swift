import Foundation

/// Text codec for `timestamptz`, `timestamp` and `date` values, exact to the microsecond.
///
/// Hand-written instead of `DateFormatter`/`ISO8601DateFormatter`: those drop microseconds, depend on
/// locale objects that are costly and not documented as thread-safe on Linux, and know nothing of
/// PostgreSQL's ` BC` suffix, 5-digit years or second-resolution historical offsets.
enum PostgresTimestamp {
    /// Microseconds since 1970-01-01T00:00:00Z, rounded to the nearest microsecond.
    static func microseconds(_ date: Date) -> Int64? {
        let us = (date.timeIntervalSince1970 * 1_000_000).rounded()
        // ±2^62 µs is far beyond PostgreSQL's range (4713 BC … 294276 AD) yet safe from overflow.
        guard us.isFinite, abs(us) < 4.6e18 else { return nil }
        return Int64(us)
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00` in UTC, with ` BC` for years before 1.
    static func format(_ date: Date) -> String? {
        guard let us = microseconds(date) else { return nil }
        var days = us / 86_400_000_000
        var rem = us % 86_400_000_000
        if rem < 0 { rem += 86_400_000_000; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        let secOfDay = rem / 1_000_000
        let micros = rem % 1_000_000
        let bc = y <= 0
        let year = bc ? 1 - y : y
        var s = pad(year, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + " "
        s += pad(secOfDay / 3600, 2) + ":" + pad(secOfDay / 60 % 60, 2) + ":" + pad(secOfDay % 60, 2)
        s += "." + pad(micros, 6) + "+00"
        if bc { s += " BC" }
        return s
    }

    /// Parses PostgreSQL's ISO output and RFC 3339 (`T`, `Z`, fractional seconds up to 9 digits).
    /// Without an offset the value is taken as UTC only when `naiveIsUTC` (a `timestamp`/`date` column).
    static func parse(_ text: String, naiveIsUTC: Bool) -> Result<Date, PostgresDecodingFailure> {
        func fail(_ why: String) -> Result<Date, PostgresDecodingFailure> {
            .failure(PostgresDecodingFailure("'\(text.prefix(64))' is not a timestamp: \(why)"))
        }
        if text == "infinity" || text == "-infinity" { return fail("infinite timestamps have no Date") }
        var b = Array(text.utf8)
        var bc = false
        if b.count > 3, b.suffix(3) == Array(" BC".utf8) { bc = true; b.removeLast(3) }
        var i = 0
        func digits(min: Int, max: Int) -> Int64? {
            var value: Int64 = 0
            var n = 0
            while i < b.count, n < max, b[i] >= 48, b[i] <= 57 {
                value = value * 10 + Int64(b[i] - 48)
                i += 1; n += 1
            }
            return n >= min ? value : nil
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard var year = digits(min: 4, max: 7), expect("-"), let month = digits(min: 2, max: 2), expect("-"),
              let day = digits(min: 2, max: 2) else { return fail("expected YYYY-MM-DD") }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: bc ? 1 - year : year) else {
            return fail("date out of range")
        }
        if bc { year = 1 - year }
        var secOfDay: Int64 = 0
        var micros: Int64 = 0
        var offsetSeconds: Int64 = 0
        var hasOffset = false
        if i < b.count {
            guard b[i] == UInt8(ascii: " ") || b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") else {
                return fail("expected a time after the date")
            }
            i += 1
            guard let h = digits(min: 2, max: 2), expect(":"), let mi = digits(min: 2, max: 2), expect(":"),
                  let s = digits(min: 2, max: 2) else { return fail("expected HH:MM:SS") }
            guard h < 24, mi < 60, s < 60 else { return fail("time out of range") }
            secOfDay = h * 3600 + mi * 60 + s
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var n = 0
                var frac: Int64 = 0
                var roundUp = false
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    if n < 6 { frac = frac * 10 + Int64(b[i] - 48) } else if n == 6 { roundUp = b[i] >= 53 }
                    n += 1; i += 1
                }
                guard n >= 1, n <= 9 else { return fail("bad fractional seconds") }
                if n < 6 { for _ in n..<6 { frac *= 10 } }
                micros = frac + (roundUp ? 1 : 0)
            }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                    hasOffset = true
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = digits(min: 2, max: 2), oh <= 15 else { return fail("bad UTC offset") }
                    var om: Int64 = 0, os: Int64 = 0
                    if expect(":") || (i < b.count && b[i] >= 48 && b[i] <= 57) {
                        guard let m = digits(min: 2, max: 2), m < 60 else { return fail("bad UTC offset") }
                        om = m
                        if expect(":") {
                            guard let s = digits(min: 2, max: 2), s < 60 else { return fail("bad UTC offset") }
                            os = s
                        }
                    }
                    offsetSeconds = sign * (oh * 3600 + om * 60 + os)
                    hasOffset = true
                }
            }
        }
        guard i == b.count else { return fail("unexpected trailing characters") }
        guard hasOffset || naiveIsUTC else { return fail("no UTC offset") }
        let days = daysFromCivil(year: year, month: month, day: day)
        let total = (days * 86_400 + secOfDay - offsetSeconds) * 1_000_000 + micros
        // Split to keep the double exact: whole seconds plus a microsecond fraction.
        let seconds = total >= 0 ? total / 1_000_000 : (total - 999_999) / 1_000_000
        let fraction = total - seconds * 1_000_000
        return .success(Date(timeIntervalSince1970: Double(seconds) + Double(fraction) / 1_000_000))
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbering).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
