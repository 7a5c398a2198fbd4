import Foundation

/// How to turn the text of one environment variable into a typed value.
///
/// The built-in parsers (`.string`, `.integer(in:)`, `.boolean`, `.duration(in:)`, `.url(schemes:)`,
/// `.list(of:)`, `.oneOf(_:)`, `.choice(_:)`, `.secret(minimumLength:)`) cover the settings of the
/// platform; a service can build its own with `init`. Values arrive trimmed of surrounding whitespace
/// and never empty (an empty variable counts as unset).
public struct ConfigParser<Value>: Sendable {
    /// What a valid value looks like, completing "expected …" in error messages.
    public let expected: String
    /// Returned instead of a value by a reader that accumulates errors (`ConfigReader.accumulatingErrors()`),
    /// so that reading can go on and report every problem; it is never used once `validate()` passed.
    public let placeholder: @Sendable () -> Value
    /// How a rejected value is shown in an error message. The default quotes it (escaped, truncated);
    /// secrets and URLs with credentials must not be echoed.
    public let show: @Sendable (String) -> String
    /// The conversion; `nil` means the text is malformed.
    public let parse: @Sendable (String) -> Value?

    public init(
        expected: String,
        placeholder: @escaping @Sendable () -> Value,
        show: @escaping @Sendable (String) -> String = ConfigParsers.quoted,
        parse: @escaping @Sendable (String) -> Value?
    ) {
        self.expected = expected
        self.placeholder = placeholder
        self.show = show
        self.parse = parse
    }
}

/// Helpers shared by the parsers.
public enum ConfigParsers {
    /// The longest part of a rejected value echoed in an error message.
    public static let maximumShownCharacters = 80

    /// Quotes a rejected value for an error message, escaping control characters and truncating it, so
    /// that a hostile or binary value cannot forge extra lines in a log.
    @Sendable public static func quoted(_ text: String) -> String {
        var out = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == maximumShownCharacters {
                out += "…"
                break
            }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Shows a URL with everything between `://` and the last `@` (user and password) replaced by `***`.
    /// It works on the raw text because a rejected URL may not parse; it errs on hiding too much.
    @Sendable public static func quotedRedactingCredentials(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return quoted(text) }
        let start = text.range(of: "://").map(\.upperBound) ?? text.startIndex
        guard start <= at else { return quoted(text) }
        return quoted(String(text[..<start]) + "***" + String(text[at...]))
    }

    /// Describes a duration in the largest unit that divides it exactly: `500ms`, `30s`, `10m`, `2h`, `7d`.
    public static func formatDuration(_ seconds: TimeInterval) -> String {
        let units: [(String, Double)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        if seconds.isFinite, seconds != 0 {
            for (suffix, size) in units where seconds >= size {
                let n = seconds / size
                if n == n.rounded(), n < 1e15 { return "\(Int64(n))\(suffix)" }
            }
            let ms = seconds * 1000
            if ms == ms.rounded(), abs(ms) < 1e15 { return "\(Int64(ms))ms" }
        }
        if seconds == 0 { return "0s" }
        return "\(seconds)s"
    }

    /// Parses a duration made of one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`:
    /// `500ms`, `30s`, `1.5h`, `1h30m`. A bare number is rejected because its unit would be a guess.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        let bytes = Array(text.utf8)
        var index = 0
        var total: Double = 0
        var parts = 0
        while index < bytes.count {
            let numberStart = index
            var sawDot = false
            while index < bytes.count, (bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9"))
                || (bytes[index] == UInt8(ascii: ".") && !sawDot) {
                if bytes[index] == UInt8(ascii: ".") { sawDot = true }
                index += 1
            }
            // Reasonable lengths only: 30 digits is far beyond any real duration.
            guard index > numberStart, index - numberStart <= 30,
                  let number = Double(String(decoding: bytes[numberStart..<index], as: UTF8.self)) else { return nil }
            let unitStart = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") { index += 1 }
            let factor: Double
            switch String(decoding: bytes[unitStart..<index], as: UTF8.self) {
            case "ms": factor = 0.001
            case "s": factor = 1
            case "m": factor = 60
            case "h": factor = 3_600
            case "d": factor = 86_400
            default: return nil
            }
            total += number * factor
            parts += 1
        }
        guard parts > 0, total.isFinite else { return nil }
        return total
    }
}

extension ConfigParser where Value == String {
    /// Any non-empty text.
    public static var string: ConfigParser<String> {
        ConfigParser(expected: "a non-empty value", placeholder: { "" }, parse: { $0 })
    }

    /// A credential: at least `minimumLength` characters. Its value never appears in an error message.
    public static func secret(minimumLength: Int = 1) -> ConfigParser<String> {
        ConfigParser(
            expected: "a secret of at least \(minimumLength) characters",
            placeholder: { "" },
            show: { "a value of \($0.count) characters" },
            parse: { $0.count >= minimumLength ? $0 : nil })
    }

    /// One of a fixed set of words, matched without regard to case and returned as spelled in `allowed`.
    public static func oneOf(_ allowed: [String]) -> ConfigParser<String> {
        ConfigParser(
            expected: "one of " + allowed.joined(separator: ", "),
            placeholder: { allowed.first ?? "" },
            parse: { text in allowed.first { $0.caseInsensitiveCompare(text) == .orderedSame } })
    }
}

extension ConfigParser where Value == Int {
    /// A decimal integer within `range`, e.g. "an integer 1–65535".
    public static func integer(in range: ClosedRange<Int> = Int.min...Int.max) -> ConfigParser<Int> {
        let expected: String
        switch (range.lowerBound, range.upperBound) {
        case (Int.min, Int.max): expected = "an integer"
        case (let low, Int.max): expected = "an integer ≥ \(low)"
        case (Int.min, let high): expected = "an integer ≤ \(high)"
        case (let low, let high): expected = "an integer \(low)–\(high)"
        }
        return ConfigParser(expected: expected, placeholder: { range.lowerBound }, parse: { text in
            guard let value = Int(text), range.contains(value) else { return nil }
            return value
        })
    }
}

extension ConfigParser where Value == Bool {
    /// `true`/`false`, `1`/`0` or `yes`/`no`, in any case.
    public static var boolean: ConfigParser<Bool> {
        ConfigParser(expected: "true/false, 1/0 or yes/no", placeholder: { false }, parse: { text in
            switch text.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: return nil
            }
        })
    }
}

extension ConfigParser where Value == TimeInterval {
    /// A duration such as `500ms`, `30s`, `10m`, `2h`, `7d` or `1h30m`, in seconds, within `range`.
    public static func duration(in range: ClosedRange<TimeInterval> = 0...TimeInterval(Int32.max)) -> ConfigParser<TimeInterval> {
        let bounds = "between \(ConfigParsers.formatDuration(range.lowerBound)) and \(ConfigParsers.formatDuration(range.upperBound))"
        return ConfigParser(
            expected: "a duration such as 500ms, 30s, 10m, 2h or 7d, \(bounds)",
            placeholder: { range.lowerBound },
            parse: { text in
                guard let seconds = ConfigParsers.parseDuration(text), range.contains(seconds) else { return nil }
                return seconds
            })
    }
}

extension ConfigParser where Value == URL {
    /// An absolute URL with a host (unless `requireHost` is false, as for a PostgreSQL URL naming a
    /// Unix socket) and, when `schemes` is given, one of those schemes. User and password in a rejected
    /// value are hidden from the error message.
    public static func url(schemes: [String]? = nil, requireHost: Bool = true) -> ConfigParser<URL> {
        var expected = "an absolute URL"
        if let schemes { expected += " with scheme " + schemes.joined(separator: " or ") }
        if requireHost { expected += " and a host" }
        return ConfigParser(
            expected: expected,
            placeholder: { URL(fileURLWithPath: "/") },
            show: ConfigParsers.quotedRedactingCredentials,
            parse: { text in
                guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), !scheme.isEmpty else { return nil }
                if let schemes, !schemes.contains(where: { $0.lowercased() == scheme }) { return nil }
                if requireHost, (url.host ?? "").isEmpty { return nil }
                return url
            })
    }
}

extension ConfigParser {
    /// A comma-separated list (items trimmed, empty items skipped, at least one item) of values read by
    /// `element`. Use `.list(of: .string)` for plain words.
    public static func list<Element>(of element: ConfigParser<Element>, separator: Character = ",") -> ConfigParser<[Element]>
    where Value == [Element] {
        ConfigParser<[Element]>(
            expected: "a list separated by \"\(separator)\" of \(element.expected)",
            placeholder: { [] },
            show: element.show,
            parse: { text in
                var values: [Element] = []
                for item in text.split(separator: separator) {
                    let trimmed = item.trimmingCharacters(in: .whitespacesAndNewlines)
                    if trimmed.isEmpty { continue }
                    guard let value = element.parse(trimmed) else { return nil }
                    values.append(value)
                }
                return values.isEmpty ? nil : values
            })
    }
}

extension ConfigParser where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// One of an enum's cases by raw value, matched without regard to case.
    public static func choice(_ type: Value.Type = Value.self) -> ConfigParser<Value> {
        let cases = Array(Value.allCases)
        return ConfigParser(
            expected: "one of " + cases.map(\.rawValue).joined(separator: ", "),
            placeholder: { cases[0] },
            parse: { text in cases.first { $0.rawValue.caseInsensitiveCompare(text) == .orderedSame } })
    }
}
