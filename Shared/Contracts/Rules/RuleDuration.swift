import Foundation

/// A length of time written `30s`, `10m`, `2h` or `7d`: a positive integer without leading zeros and a
/// unit, at most `RuleLimits.maxDurationSeconds` (3650 days).
///
/// A day is exactly 86,400 seconds: `"90d"` means the last 90 × 24 hours, not 90 calendar days, so
/// a window does not stretch or shrink around a daylight-saving change. Two durations are equal only when
/// written alike (`24h` ≠ `1d`, so a rule encodes back as written); `<` orders them by length.
public struct RuleDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Unit: String, Sendable, Hashable, CaseIterable {
        case seconds = "s", minutes = "m", hours = "h", days = "d"

        /// Seconds in one unit.
        public var seconds: Int {
            switch self {
            case .seconds: 1
            case .minutes: 60
            case .hours: 3600
            case .days: 86_400
            }
        }
    }

    public let amount: Int
    public let unit: Unit

    /// A duration of `amount` units; throws when it is not positive or longer than the limit.
    public init(_ amount: Int, _ unit: Unit) throws(RuleError) {
        guard amount > 0 else { throw RuleError(path: RulePath.root, message: "a duration must be positive") }
        guard amount <= RuleLimits.maxDurationSeconds / unit.seconds else {
            throw RuleError(path: RulePath.root, message: "a duration must not exceed \(RuleLimits.maxDurationSeconds / 86_400)d")
        }
        self.amount = amount
        self.unit = unit
    }

    /// Parses `30s`, `10m`, `2h`, `7d`; anything else (`1.5h`, `07d`, `0s`, `3w`, ` 1d`) throws.
    public init(parsing text: String) throws(RuleError) {
        let bytes = Array(text.utf8.prefix(16))
        guard text.utf8.count <= 15, bytes.count >= 2,
              let unit = Unit(rawValue: String(decoding: bytes[bytes.count - 1 ..< bytes.count], as: UTF8.self)) else {
            throw RuleError(path: RulePath.root, message: "a duration is a positive integer and a unit s, m, h or d, e.g. \"30d\"")
        }
        let digits = bytes[0 ..< bytes.count - 1]
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.first != UInt8(ascii: "0") else {
            throw RuleError(path: RulePath.root, message: "a duration is a positive integer without leading zeros and a unit s, m, h or d, e.g. \"30d\"")
        }
        // At most 14 digits: no overflow of Int.
        let amount = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        try self.init(amount, unit)
    }

    /// Length in seconds.
    public var seconds: Int { amount * unit.seconds }
    public var timeInterval: TimeInterval { TimeInterval(seconds) }

    /// The written form, e.g. `30d`.
    public var description: String { "\(amount)\(unit.rawValue)" }

    public static func < (lhs: RuleDuration, rhs: RuleDuration) -> Bool {
        (lhs.seconds, lhs.unit.seconds) < (rhs.seconds, rhs.unit.seconds)
    }
}
