/// Why a rule was rejected, and where.
///
/// `path` is a JSON path into the rule document: `$` is the rule itself, `.key` an object member and
/// `[i]` an array element, e.g. `$.all[1].op`, `$.any[0].where.value[2]`, `$.count.value`. Members whose
/// name is not a plain identifier are written `["name"]` (JSON-escaped, cut at 64 characters).
/// The path always names the place to fix: an unknown or wrongly typed member names that member, a missing
/// one names where it should be, a condition that is not an object, mixes kinds or nests too deep names
/// the condition itself.
public struct RuleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// JSON path of the fault, see the type's documentation.
    public let path: String
    /// What is wrong, for people.
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    /// The 422 the API answers with: code `rule_invalid`, details `{"path": ...}`.
    public var apiError: APIError {
        .unprocessable("invalid rule at \(path): \(message)", code: "rule_invalid",
                       details: .object(["path": .string(path)]))
    }

    /// The same fault seen from a document that holds the rule at `base` (itself a path starting with `$`):
    /// `$.op` rebased onto `$.all[2]` is `$.all[2].op`; services use it to report `$.rule.all[2].op`.
    public func rebased(onto base: String) -> RuleError {
        guard path.hasPrefix("$") else { return self }
        return RuleError(path: base + path.dropFirst(), message: message)
    }
}

/// Builds the paths of `RuleError`.
enum RulePath {
    static let root = "$"

    static func member(_ base: String, _ key: String) -> String {
        if isIdentifier(key) { return base + "." + key }
        let shown = key.count > 64 ? String(key.prefix(64)) + "…" : key
        return base + "[" + quoted(shown) + "]"
    }

    static func element(_ base: String, _ index: Int) -> String { base + "[\(index)]" }

    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, key.utf8.count <= 64 else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
        return letter(first) && key.unicodeScalars.allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") }
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
