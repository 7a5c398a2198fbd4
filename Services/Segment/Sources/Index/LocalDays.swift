import Contracts
import Foundation

/// Local calendar days of the bank's time zone as integers (days since 1970-01-01), the unit of the
/// profile's daily event aggregates. Plain arithmetic instead of `Calendar`: the engine asks for a
/// customer's first day on every update and for today on every query.
struct LocalDays: Sendable {
    let timeZone: TimeZone

    /// The local day `instant` falls on.
    func day(of instant: Date) -> Int {
        let local = instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
        return Int((local / 86_400).rounded(.down))
    }

    /// The day of a `YYYY-MM-DD` key; nil for anything else.
    static func day(parsing key: String) -> Int? {
        let b = Array(key.utf8)
        guard b.count == 10, b[4] == 0x2D, b[7] == 0x2D else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                n = n * 10 + Int(b[i] - 0x30)
            }
            return n
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        return CivilDays.days(year: y, month: m, day: d)
    }
}
