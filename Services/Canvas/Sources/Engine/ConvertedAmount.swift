import Contracts
import Foundation

/// The converted amount a goal event carries (`goal.amountProperty`), as `canvas.journey_converted`
/// passes it to analytics: CNY as a decimal string with two decimals ("1200.50"), the form analytics
/// accepts as money (at most 12 integer digits, stored as `numeric(18, 2)`).
///
/// The property is written by whoever posts the event, so a value that is not an amount (missing,
/// text, negative, too large, not finite) yields no amount: the conversion still counts, and one bad
/// event never stops the fact, which analytics would refuse as a whole.
enum ConvertedAmount {
    /// The largest amount analytics takes: 12 integer digits.
    static let maximumCents: Int64 = 999_999_999_999_99

    /// The amount in `properties[property]`, or nil when it holds none.
    static func read(_ properties: [String: JSONValue], property: String?) -> String? {
        guard let property, let value = properties[property] else { return nil }
        return format(value)
    }

    /// A JSON number or a numeric string ("1200.5") as "1200.50", rounded half away from zero to the fen.
    static func format(_ value: JSONValue) -> String? {
        let decimal: Decimal
        switch value {
        case .number(let n):
            // The shortest text that reads back as `n` ("1200.5", not 1200.49999…), then exact decimal arithmetic.
            guard n.isFinite, let d = Decimal(string: "\(n)", locale: Locale(identifier: "en_US_POSIX")) else { return nil }
            decimal = d
        case .string(let text):
            guard isDecimalText(text), let d = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
            decimal = d
        default:
            return nil
        }
        guard decimal >= 0 else { return nil }
        var scaled = decimal * 100, rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        guard rounded <= Decimal(maximumCents) else { return nil }
        let cents = NSDecimalNumber(decimal: rounded).int64Value
        let fen = cents % 100
        return "\(cents / 100)." + (fen < 10 ? "0\(fen)" : "\(fen)")
    }

    /// Plain decimal text: digits, optionally a point and more digits (no sign, exponent or spaces),
    /// checked first because `Decimal(string:)` also reads a number at the start of "12abc".
    static func isDecimalText(_ text: String) -> Bool {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), text.utf8.count <= 32 else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= 48 && $0 <= 57 } }
    }
}
