/// Compact JSON text written byte by byte: the counterpart of `JSONParser`.
///
/// `JSONEncoder` goes through a boxed container per value and was most of the cost of the profile's
/// change feed (pages of hundreds of customer documents). This writes straight into a byte buffer. What
/// it writes, `JSONParser` and `JSONDecoder` read back to the same value.
extension JSONValue {
    /// This value as JSON text.
    public var jsonBytes: [UInt8] {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return bytes
    }

    /// Appends this value as JSON text. Member order is the dictionary's (JSON objects are unordered).
    public func write(into bytes: inout [UInt8]) {
        switch self {
        case .null: bytes.append(contentsOf: JSONText.null)
        case .bool(let b): bytes.append(contentsOf: b ? JSONText.true : JSONText.false)
        case .number(let n): JSONText.appendNumber(n, to: &bytes)
        case .string(let s): JSONString.append(s, to: &bytes)
        case .array(let items):
            JSONText.appendArray(items, to: &bytes) { item, bytes in item.write(into: &bytes) }
        case .object(let members):
            JSONText.appendObject(members, to: &bytes) { value, bytes in value.write(into: &bytes) }
        }
    }
}

/// The pieces that hand-written JSON writers share (`JSONValue.write`, documents that write themselves).
public enum JSONText {
    static let null = Array("null".utf8)
    static let `true` = Array("true".utf8)
    static let `false` = Array("false".utf8)

    /// Appends `n` as a JSON number: integral values up to 2^53 without a fraction (`5`, not `5.0`),
    /// others in Swift's shortest round-trip form (`0.1`, `1e-05`, both valid JSON). JSON has no NaN or
    /// infinity; they are written as `null`, since a writer of already-validated values has no one to
    /// report to (JSONEncoder would throw).
    public static func appendNumber(_ n: Double, to bytes: inout [UInt8]) {
        guard n.isFinite else {
            bytes.append(contentsOf: null)
            return
        }
        if n.rounded() == n && abs(n) <= 9_007_199_254_740_992 {
            appendInteger(Int64(n), to: &bytes)
        } else {
            bytes.append(contentsOf: n.description.utf8)
        }
    }

    /// Appends `n` in decimal.
    public static func appendInteger(_ n: Int64, to bytes: inout [UInt8]) {
        if n >= 0 && n < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(n))
            return
        }
        bytes.append(contentsOf: String(n).utf8)
    }

    /// Appends `{"key":value,…}`, each value written by `value`.
    public static func appendObject<Value>(_ members: [String: Value], to bytes: inout [UInt8],
                                           value: (Value, inout [UInt8]) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (key, member) in members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            JSONString.append(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            value(member, &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Appends `[element,…]`, each element written by `element`.
    public static func appendArray<Element>(_ elements: [Element], to bytes: inout [UInt8],
                                            element: (Element, inout [UInt8]) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, item) in elements.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            element(item, &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends `"key":` (after a comma unless `first`): for writers of fixed-shape objects.
    public static func appendKey(_ key: String, first: Bool = false, to bytes: inout [UInt8]) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        JSONString.append(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }
}
