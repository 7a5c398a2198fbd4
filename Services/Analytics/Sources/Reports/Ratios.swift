import Foundation

/// Rates in reports: nil (absent from the JSON, empty in CSV) when the denominator is zero, never NaN.
enum Ratio {
    static func of(_ part: Int, _ whole: Int) -> Double? { whole > 0 ? Double(part) / Double(whole) : nil }

    static func of(_ part: Decimal, _ whole: Decimal) -> Double? {
        whole != 0 ? NSDecimalNumber(decimal: part / whole).doubleValue : nil
    }

    static func decimal(_ text: String) -> Decimal { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) ?? 0 }

    /// Two decimals, as money is written in answers ("12.50").
    static func money(_ value: Decimal) -> String {
        var v = value, rounded = Decimal()
        NSDecimalRound(&rounded, &v, 2, .plain)
        let text = NSDecimalNumber(decimal: rounded).stringValue
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        return decimals >= 2 ? text : text + String(repeating: "0", count: 2 - decimals)
    }
}
