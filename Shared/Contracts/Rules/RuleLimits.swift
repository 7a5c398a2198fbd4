/// The bounds every rule is held to, so that no input — however large or hostile — costs more than a
/// small, fixed amount of work to parse, store or evaluate.
public enum RuleLimits {
    /// Deepest nesting of conditions; the root is depth 1 and a `where` continues its event's depth.
    public static let maxDepth = 32
    /// Most conditions in one rule, counting every node (including those inside `where`).
    public static let maxNodes = 1000
    /// Most values in an `in`/`not_in` list.
    public static let maxListValues = 1000
    /// Longest name (attribute, property, tag, event, segment or list id), in UTF-8 bytes.
    public static let maxNameBytes = 128
    /// Longest string value a condition compares with, in UTF-8 bytes.
    public static let maxStringBytes = 4096
    /// Largest count an event condition compares with.
    public static let maxCount = 1_000_000_000
    /// Longest duration, in seconds (3650 days, about ten years).
    public static let maxDurationSeconds = 3650 * 86_400
}

extension RuleLimits {
    /// A name is 1…`maxNameBytes` UTF-8 bytes with no control characters.
    static func checkName(_ name: String, what: String, path: String) throws(RuleError) {
        guard !name.isEmpty else { throw RuleError(path: path, message: "\(what) must not be empty") }
        guard name.utf8.count <= maxNameBytes else {
            throw RuleError(path: path, message: "\(what) must be at most \(maxNameBytes) bytes")
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw RuleError(path: path, message: "\(what) must not contain control characters")
        }
    }

    /// A compared string is at most `maxStringBytes` UTF-8 bytes.
    static func checkString(_ text: String, path: String) throws(RuleError) {
        guard text.utf8.count <= maxStringBytes else {
            throw RuleError(path: path, message: "a string value must be at most \(maxStringBytes) bytes")
        }
    }
}
