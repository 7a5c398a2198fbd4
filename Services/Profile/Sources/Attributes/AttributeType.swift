import Contracts
import Foundation

/// The value types of customer attributes, built in or from the catalog, and the one place a raw value
/// (JSON from the API, or text from an import file) is checked and normalized.
public enum AttributeType: String, Sendable, Codable, CaseIterable {
    case string, int, decimal, bool, date, timestamp
    case `enum`

    /// Longest string value accepted.
    static let maximumStringLength = 1_000

    /// The normalized value, or a reason it is not one of this type.
    ///
    /// Text is accepted for every type (import files carry only text): `"42"` is an int, `"true"`/`"1"`/
    /// `"是"` a bool, `"500000.00"` a decimal. Dates are `YYYY-MM-DD`; timestamps RFC 3339 (normalized
    /// to UTC). Decimals keep their digits (never a binary float): they are returned as decimal text.
    func normalize(_ value: JSONValue, enumValues: [String]? = nil) -> Result<NormalizedValue, AttributeValueError> {
        switch self {
        case .string:
            guard case .string(let s) = value else { return .failure(.wrongType("a string")) }
            guard s.utf8.count <= Self.maximumStringLength || s.count <= Self.maximumStringLength else { return .failure(.invalid("is longer than \(Self.maximumStringLength) characters")) }
            return .success(.text(s))
        case .int:
            switch value {
            case .number(let d):
                guard d.rounded() == d, abs(d) < 9.0e15 else { return .failure(.wrongType("an integer")) }
                return .success(.integer(Int64(d)))
            case .string(let s):
                guard let i = Int64(s.trimmingSpaces()) else { return .failure(.wrongType("an integer")) }
                return .success(.integer(i))
            default: return .failure(.wrongType("an integer"))
            }
        case .decimal:
            let text: String
            switch value {
            case .number(let d):
                guard d.isFinite else { return .failure(.wrongType("a decimal number")) }
                text = "\(d)"   // the shortest text that round-trips: 500000.01, not 500000.0100000000512
            case .string(let s): text = s.trimmingSpaces()
            default: return .failure(.wrongType("a decimal number"))
            }
            guard let decimal = DecimalText(text) else { return .failure(.wrongType("a decimal number")) }
            return .success(.decimal(decimal))
        case .bool:
            switch value {
            case .bool(let b): return .success(.boolean(b))
            case .number(let d) where d == 0 || d == 1: return .success(.boolean(d == 1))
            case .string(let s):
                switch s.trimmingSpaces().lowercased() {
                case "true", "1", "yes", "y", "是": return .success(.boolean(true))
                case "false", "0", "no", "n", "否": return .success(.boolean(false))
                default: return .failure(.wrongType("true or false"))
                }
            default: return .failure(.wrongType("true or false"))
            }
        case .date:
            guard case .string(let s) = value, let day = CalendarDay(s.trimmingSpaces()) else {
                return .failure(.wrongType("a date (YYYY-MM-DD)"))
            }
            return .success(.date(day))
        case .timestamp:
            guard case .string(let s) = value, let date = Self.timestamp(s.trimmingSpaces()) else {
                return .failure(.wrongType("an RFC 3339 timestamp"))
            }
            return .success(.timestamp(date))
        case .enum:
            guard case .string(let s) = value else { return .failure(.wrongType("one of the listed values")) }
            guard let allowed = enumValues, allowed.contains(s) else {
                return .failure(.invalid("must be one of: \((enumValues ?? []).prefix(20).joined(separator: ", "))"))
            }
            return .success(.text(s))
        }
    }

    static func timestamp(_ text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        return JSONCoding.parseDate(text)
    }
}

/// A checked attribute value.
public enum NormalizedValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case decimal(DecimalText)
    case boolean(Bool)
    case date(CalendarDay)
    case timestamp(Date)

    /// As stored in a text column or bound as a parameter.
    var sqlText: String {
        switch self {
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .decimal(let d): return d.text
        case .boolean(let b): return b ? "true" : "false"
        case .date(let d): return d.description
        case .timestamp(let t): return JSONCoding.formatDate(t)
        }
    }

    /// As kept in the `attributes` JSON document (decimals as JSON numbers: jsonb keeps their digits).
    var jsonText: String {
        switch self {
        case .text(let s): return JSONString.quoted(s)
        case .date, .timestamp: return JSONString.quoted(sqlText)
        case .integer, .decimal, .boolean: return sqlText
        }
    }
}

/// A decimal number as its canonical text, read without a binary float or `Foundation.Decimal` (an
/// import checks one per row and cell: `Decimal` parsing and printing were a third of the upload's CPU).
///
/// Accepted: an optional `-`, at most 18 integer and 6 fractional digits, an optional point (`5.`,
/// `.5`); no exponent, no spaces. Canonical: no leading zeros in the integer part, no trailing zeros in
/// the fraction, `0` for every zero (`007.50` is `7.5`, `-0.0` is `0`) — what `Decimal` printed.
public struct DecimalText: Sendable, Equatable {
    public let text: String
    /// Digits after the point in the canonical text.
    public let fractionDigits: Int
    public var isNegative: Bool { text.utf8.first == UInt8(ascii: "-") }

    public init?(_ input: String) {
        let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        let bytes = Array(input.utf8)
        var i = 0
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var integerStart = i
        while i < bytes.count, bytes[i] >= zero, bytes[i] <= nine { i += 1 }
        let integerEnd = i
        var fractionStart = i, fractionEnd = i
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            fractionStart = i
            while i < bytes.count, bytes[i] >= zero, bytes[i] <= nine { i += 1 }
            fractionEnd = i
        }
        guard i == bytes.count, integerEnd > integerStart || fractionEnd > fractionStart,
              integerEnd - integerStart <= 18, fractionEnd - fractionStart <= 6 else { return nil }
        while integerStart < integerEnd, bytes[integerStart] == zero { integerStart += 1 }
        while fractionEnd > fractionStart, bytes[fractionEnd - 1] == zero { fractionEnd -= 1 }
        guard integerStart < integerEnd || fractionStart < fractionEnd else {
            text = "0"
            fractionDigits = 0
            return
        }
        var canonical: [UInt8] = []
        canonical.reserveCapacity(bytes.count + 2)
        if negative { canonical.append(UInt8(ascii: "-")) }
        if integerStart == integerEnd { canonical.append(zero) } else { canonical += bytes[integerStart..<integerEnd] }
        if fractionStart < fractionEnd {
            canonical.append(UInt8(ascii: "."))
            canonical += bytes[fractionStart..<fractionEnd]
        }
        text = String(decoding: canonical, as: UTF8.self)
        fractionDigits = fractionEnd - fractionStart
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (`CharacterSet.whitespaces`: Unicode space
    /// separators and tab). Most cells have none, and then no work is done: the Foundation call bridged
    /// every cell of an import through `NSString` (a seventh of the upload's CPU).
    func trimmingSpaces() -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII ? scalar == " " || scalar == "\t" : scalar.properties.generalCategory == .spaceSeparator
        }
        let scalars = unicodeScalars
        guard let first = scalars.first, let last = scalars.last, isSpace(first) || isSpace(last) else { return self }
        guard let start = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[start...end])
    }
}

/// Why a value does not fit its attribute.
public enum AttributeValueError: Error, Sendable, Equatable {
    case wrongType(String)
    case invalid(String)

    public var message: String {
        switch self {
        case .wrongType(let expected): return "must be \(expected)"
        case .invalid(let why): return why
        }
    }
}

/// A calendar date without time or zone, `YYYY-MM-DD`.
public struct CalendarDay: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    public init?(_ text: String) {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = Int(text.prefix(4)), let m = Int(text.dropFirst(5).prefix(2)), let d = Int(text.suffix(2)),
              (1...9999).contains(y), (1...12).contains(m), d >= 1 else { return nil }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        guard d <= days else { return nil }
        self.text = text
    }

    init(text: String) { self.text = text }

    public var description: String { text }
}
