import Contracts
import Foundation

/// A value held as one `Double` on a number line of `OperandKey` plus a small format code that gives
/// back its exact JSON: the storage of attributes with too many distinct values for a dictionary
/// (balances, timestamps), at 8 bytes and a code per customer.
///
/// Only values that come back exactly are keyed: JSON numbers (of magnitudes a Decimal holds); decimal strings of at most 15 digits
/// (`"500000.00"`: the digits as an integer, exact in a Double, with the count of fraction digits);
/// timestamps written as every service writes them (`2026-12-02T04:00:00.000Z`). Anything else stays in
/// the column's dictionary.
enum KeyedValue {
    /// Format codes, below `AttributeColumn.firstValueCode`.
    static let number: UInt32 = 1
    static let timestamp: UInt32 = 2
    /// `decimal + f`: a decimal string with `f` (0…15) fraction digits.
    static let decimal: UInt32 = 3
    static let maxDigits = 15
    static let formats: UInt32 = decimal + UInt32(maxDigits) + 1

    /// The number line of `OperandKey` a format's keys lie on.
    enum Line { case number, decimal, instant }

    @inline(__always) static func line(of format: UInt32) -> Line {
        format == number ? .number : format == timestamp ? .instant : .decimal
    }

    /// The format and key of `value`, or nil when it is not kept as a key.
    static func encode(_ value: JSONValue) -> (format: UInt32, key: Double)? {
        switch value {
        case .number(let x):
            // Beyond Decimal's exponents a number is incomparable with decimal strings (see
            // `RuleScalar.decimal(of:)`), which no key could say: such numbers stay in the dictionary.
            guard x == 0 || (x.magnitude > 1e-60 && x.magnitude < 1e60) else { return nil }
            return (number, x)
        case .string(let text):
            let bytes = text.utf8
            if let first = bytes.first, first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39),
               let (format, key) = decimal(text) {
                return (format, key)
            }
            guard bytes.count == 24, let date = JSONCoding.parseDate(text) else { return nil }
            let key = date.timeIntervalSinceReferenceDate
            // Only the canonical form (upper-case T and Z, milliseconds) comes back from the key alone.
            guard timestampText(key) == text else { return nil }
            return (timestamp, key)
        case .null, .bool, .array, .object:
            return nil
        }
    }

    /// The exact JSON value a format and key stand for.
    static func decode(_ format: UInt32, _ key: Double) -> JSONValue {
        switch format {
        case number: return .number(key)
        case timestamp: return .string(timestampText(key))
        default: return .string(decimalText(key, fractionDigits: Int(format - decimal)))
        }
    }

    // MARK: Decimal strings

    /// A decimal string as the rule language reads one (`-?(0|[1-9][0-9]*)(\.[0-9]+)?`, see
    /// `ValueComparison`), of at most 15 digits: the nearest Double of its value (an exact integer
    /// divided by an exact power of ten, so correctly rounded, as strtod would give).
    private static func decimal(_ text: String) -> (UInt32, Double)? {
        var mantissa: Int64 = 0
        var digits = 0, fraction = -1, negative = false, index = 0, leadingZero = false
        for c in text.utf8 {
            defer { index += 1 }
            if index == 0 && c == UInt8(ascii: "-") { negative = true; continue }
            if c == UInt8(ascii: ".") {
                guard fraction < 0, digits > 0 else { return nil }
                fraction = 0
                continue
            }
            guard c >= 0x30 && c <= 0x39 else { return nil }
            if fraction < 0 {
                // No leading zeros: "0101" is a code, not a number.
                if leadingZero { return nil }
                if digits == 0 && c == 0x30 { leadingZero = true }
            } else {
                fraction += 1
            }
            digits += 1
            guard digits <= maxDigits else { return nil }
            mantissa = mantissa * 10 + Int64(c - 0x30)
        }
        guard digits > 0, fraction != 0 else { return nil }
        let f = max(0, fraction)
        let magnitude = Double(mantissa) / powersOfTen[f]
        return (decimal + UInt32(f), negative ? -magnitude : magnitude)
    }

    private static let powersOfTen: [Double] = (0...maxDigits).map { pow(10, Double($0)) }

    private static func decimalText(_ key: Double, fractionDigits f: Int) -> String {
        // |key| * 10^f is within a few units in the last place of an integer below 2^50: rounding finds it.
        let mantissa = Int64((key.magnitude * powersOfTen[f]).rounded())
        var text = key.sign == .minus ? "-" : ""
        let scale = Int64(powersOfTen[f])
        text += String(mantissa / scale)
        if f > 0 {
            let fraction = String(mantissa % scale)
            text += "." + String(repeating: "0", count: f - fraction.count) + fraction
        }
        return text
    }

    // MARK: Timestamps

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` of an instant given as seconds since the reference date.
    private static func timestampText(_ key: Double) -> String {
        let millis = Int64(((key + Date.timeIntervalBetween1970AndReferenceDate) * 1000).rounded())
        let (seconds, ms) = (millis.floorDivided(by: 1000), millis.floorModulo(1000))
        let (days, secondOfDay) = (seconds.floorDivided(by: 86_400), seconds.floorModulo(86_400))
        let (year, month, day) = CivilDays.date(days: Int(days))
        guard (0...9999).contains(year) else { return "" }
        var bytes = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, _ at: Int, _ width: Int) {
            var v = value
            for i in stride(from: at + width - 1, through: at, by: -1) { bytes[i] = UInt8(0x30 + v % 10); v /= 10 }
        }
        put(year, 0, 4); bytes[4] = 0x2D; put(month, 5, 2); bytes[7] = 0x2D; put(day, 8, 2)
        bytes[10] = UInt8(ascii: "T")
        put(Int(secondOfDay / 3600), 11, 2); bytes[13] = 0x3A; put(Int(secondOfDay / 60 % 60), 14, 2); bytes[16] = 0x3A
        put(Int(secondOfDay % 60), 17, 2); bytes[19] = UInt8(ascii: "."); put(Int(ms), 20, 3); bytes[23] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }
}

private extension Int64 {
    func floorDivided(by d: Int64) -> Int64 { self >= 0 ? self / d : -((-self + d - 1) / d) }
    func floorModulo(_ d: Int64) -> Int64 { self - floorDivided(by: d) * d }
}
