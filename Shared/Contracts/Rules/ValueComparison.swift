import Foundation

/// A scalar JSON value as the rule language sees it: a JSON number, a decimal string, a date, a
/// timestamp, other text, or a bool. Strings are classified once, by their exact shape:
/// - decimal: JSON number syntax without exponent, `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most 38 digits —
///   so money written `"500000.00"` compares as a number while codes such as `"0101"` stay text;
/// - date: exactly `YYYY-MM-DD`; timestamp: strict RFC 3339 (see `RFC3339`);
/// - text: every other string.
enum RuleScalar: Sendable, Hashable {
    /// A JSON number and, when it fits, the same value as a `Decimal` (from its shortest decimal form).
    case number(Double, Decimal?)
    case decimal(Decimal, String)
    case day(CalendarDay, String)
    case timestamp(Date, String)
    case text(String)
    case bool(Bool)

    /// nil for null, arrays and objects, which are not scalars.
    init?(_ json: JSONValue) {
        switch json {
        case .number(let n):
            self = .number(n, RuleScalar.decimal(of: n))
        case .string(let s):
            self = RuleScalar(classifying: s)
        case .bool(let b):
            self = .bool(b)
        case .null, .array, .object:
            return nil
        }
    }

    init(classifying s: String) {
        if let d = RuleScalar.decimal(parsing: s) { self = .decimal(d, s) }
        else if let day = CalendarDay.parse(s) { self = .day(day, s) }
        else if let t = RFC3339.parse(s) { self = .timestamp(t, s) }
        else { self = .text(s) }
    }

    /// The original string, for the string kinds.
    var string: String? {
        switch self {
        case .decimal(_, let s), .day(_, let s), .timestamp(_, let s), .text(let s): s
        case .number, .bool: nil
        }
    }

    /// The numeric value, for numbers and decimal strings.
    var decimal: Decimal? {
        switch self {
        case .number(_, let d): d
        case .decimal(let d, _): d
        default: nil
        }
    }

    var isTemporal: Bool {
        switch self {
        case .day, .timestamp: true
        default: false
        }
    }

    private static let posix = Locale(identifier: "en_US_POSIX")

    /// `n` as a Decimal through its shortest round-trip text (`0.1`, not `0.1000000000000000055…`).
    static func decimal(of n: Double) -> Decimal? {
        guard n.isFinite else { return nil }
        return Decimal(string: "\(n)", locale: posix)
    }

    static func decimal(parsing s: String) -> Decimal? {
        let b = Array(s.utf8.prefix(42))
        guard !b.isEmpty, b.count <= 41 else { return nil }
        var i = b[0] == UInt8(ascii: "-") ? 1 : 0
        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        let integerStart = i
        while i < b.count, isDigit(b[i]) { i += 1 }
        let integerDigits = i - integerStart
        guard integerDigits > 0, integerDigits == 1 || b[integerStart] != UInt8(ascii: "0") else { return nil }
        var fractionDigits = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: ".") else { return nil }
            i += 1
            while i < b.count, isDigit(b[i]) { i += 1; fractionDigits += 1 }
            guard fractionDigits > 0, i == b.count else { return nil }
        }
        guard integerDigits + fractionDigits <= 38 else { return nil }
        return Decimal(string: s, locale: posix)
    }
}

/// How two scalars compare, in one time zone. The single definition of the language's value semantics:
///
/// - number with number: as numbers; number with decimal string, or two decimal strings: as decimals;
/// - two timestamps: as instants; two dates: by calendar date; a date with a timestamp: the timestamp's
///   local date in `timeZone` against the date;
/// - two text strings: as text (Swift string order: Unicode canonical equivalence, code-point order,
///   no locale, case-sensitive);
/// - bools: equal or not, never ordered;
/// - anything else (a number or a date with text, a decimal string with a date, a bool with a number, …):
///   incomparable, so every comparison operator is false for it and `ne` is true. (Two strings of
///   different kinds are different strings, so text equality would say the same.)
struct ValueComparison: Sendable {
    let calendar: Calendar

    init(timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    var timeZone: TimeZone { calendar.timeZone }

    /// The order of `a` relative to `b`, or nil when they are incomparable (or both bools).
    func compare(_ a: RuleScalar, _ b: RuleScalar) -> ComparisonResult? {
        switch (a, b) {
        case let (.number(x, _), .number(y, _)):
            guard !x.isNaN, !y.isNaN else { return nil }
            return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
        case let (.timestamp(x, _), .timestamp(y, _)):
            return order(x, y)
        case let (.day(x, _), .day(y, _)):
            return order(x, y)
        case let (.day(x, _), .timestamp(y, _)):
            return order(x, CalendarDay(containing: y, in: timeZone))
        case let (.timestamp(x, _), .day(y, _)):
            return order(CalendarDay(containing: x, in: timeZone), y)
        case (.number, .decimal), (.decimal, .number), (.decimal, .decimal):
            guard let x = a.decimal, let y = b.decimal else { return nil }
            return order(x, y)
        case let (.text(x), .text(y)):
            return order(x, y)
        default:
            return nil
        }
    }

    /// Equality under the same rules; bools equal bools of the same value.
    func equals(_ a: RuleScalar, _ b: RuleScalar) -> Bool {
        if case .bool(let x) = a, case .bool(let y) = b { return x == y }
        return compare(a, b) == .orderedSame
    }

    /// Equality of an attribute value (any JSON) with a scalar operand: false for null, arrays and objects.
    func equals(_ value: JSONValue, _ operand: RuleScalar) -> Bool {
        guard let scalar = RuleScalar(value) else { return false }
        return equals(scalar, operand)
    }

    private func order<T: Comparable>(_ x: T, _ y: T) -> ComparisonResult {
        x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
    }
}
