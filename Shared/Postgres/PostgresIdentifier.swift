/// SQL identifiers (schema, channel names) from trusted configuration.
///
/// Values can be bound as parameters, identifiers cannot; so identifiers are validated against a
/// conservative pattern and then double-quoted. Nothing from a request should ever reach here.
public enum PostgresIdentifier {
    /// Letters, digits, `_` and `$`, not starting with a digit or `$`, at most 63 bytes (NAMEDATALEN-1).
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else { return false }
        for (i, b) in bytes.enumerated() {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "$"):
                if i == 0 { return false }
            default:
                return false
            }
        }
        return true
    }

    /// The name double-quoted for SQL, after validation.
    public static func quoted(_ name: String) throws(PostgresError) -> String {
        guard isValid(name) else { throw PostgresError.invalidIdentifier(name) }
        return "\"" + name + "\""
    }
}
