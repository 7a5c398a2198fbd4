import Foundation

/// A Swift value that can be sent as a query parameter (`$1`, `$2`, …) in PostgreSQL text format.
///
/// Parameters are always sent separately from the SQL text (PQexecParams), so no value is ever
/// spliced into a statement.
public protocol PostgresEncodable {
    /// The type OID sent with the parameter; `PostgresType.unknown` (0) lets the server infer it from
    /// the context (used for `String`, so a string can fill a text, varchar, enum or json column).
    static var postgresType: UInt32 { get }
    /// The value in PostgreSQL's text input format.
    func postgresText() throws -> String
}

/// A value that can be an element of an array parameter (`text[]`, `bigint[]`, …).
public protocol PostgresArrayElement {
    /// The OID of the array type whose elements have this type.
    static var postgresArrayType: UInt32 { get }
    /// The element's text, or nil for a NULL element.
    func postgresArrayElementText() throws -> String?
}

extension PostgresArrayElement where Self: PostgresEncodable {
    public func postgresArrayElementText() throws -> String? { try postgresText() }
}

/// Thrown by `postgresText()` when a value cannot be represented; reported as `.invalidParameter`.
public struct PostgresEncodingFailure: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension String: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.unknown }
    public static var postgresArrayType: UInt32 { PostgresType.textArray }
    public func postgresText() throws -> String { self }
}

extension Substring: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.unknown }
    public static var postgresArrayType: UInt32 { PostgresType.textArray }
    public func postgresText() throws -> String { String(self) }
}

extension Int: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.int8 }
    public static var postgresArrayType: UInt32 { PostgresType.int8Array }
    public func postgresText() throws -> String { String(self) }
}

extension Int64: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.int8 }
    public static var postgresArrayType: UInt32 { PostgresType.int8Array }
    public func postgresText() throws -> String { String(self) }
}

extension Int32: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.int4 }
    public static var postgresArrayType: UInt32 { PostgresType.int4Array }
    public func postgresText() throws -> String { String(self) }
}

extension Int16: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.int2 }
    public static var postgresArrayType: UInt32 { PostgresType.int2Array }
    public func postgresText() throws -> String { String(self) }
}

extension Bool: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.bool }
    public static var postgresArrayType: UInt32 { PostgresType.boolArray }
    public func postgresText() throws -> String { self ? "true" : "false" }
}

extension Double: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.float8 }
    public static var postgresArrayType: UInt32 { PostgresType.float8Array }
    public func postgresText() throws -> String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return "\(self)"  // Swift prints the shortest representation that round-trips.
    }
}

extension Decimal: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.numeric }
    public static var postgresArrayType: UInt32 { PostgresType.numericArray }
    public func postgresText() throws -> String {
        if isNaN { return "NaN" }
        return description  // locale-independent, plain digits
    }
}

extension Date: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.timestamptz }
    public static var postgresArrayType: UInt32 { PostgresType.timestamptzArray }
    public func postgresText() throws -> String {
        guard let text = PostgresTimestamp.format(self) else {
            throw PostgresEncodingFailure("date \(timeIntervalSince1970) is out of range")
        }
        return text
    }
}

extension UUID: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.uuid }
    public static var postgresArrayType: UInt32 { PostgresType.uuidArray }
    public func postgresText() throws -> String { uuidString.lowercased() }
}

extension Data: PostgresEncodable, PostgresArrayElement {
    public static var postgresType: UInt32 { PostgresType.bytea }
    public static var postgresArrayType: UInt32 { PostgresType.byteaArray }
    public func postgresText() throws -> String { PostgresBytea.hex(self) }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public static var postgresArrayType: UInt32 { Wrapped.postgresArrayType }
    public func postgresArrayElementText() throws -> String? {
        guard let value = self else { return nil }
        return try value.postgresArrayElementText()
    }
}

/// One-dimensional arrays: `[String]` → `text[]`, `[Int]` → `bigint[]`, `[String?]` with NULLs, …
/// (`[UInt8]` is not bytea here; send bytes as `Data`.)
extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresType: UInt32 { Element.postgresArrayType }
    public func postgresText() throws -> String {
        // Built as bytes: batches bind arrays of thousands of elements. `\` and `"` never occur inside
        // a multi-byte UTF-8 sequence, so escaping byte by byte is exact.
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(count * 24 + 2)
        for (i, element) in enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let text = try element.postgresArrayElementText() else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            // Always quote: no need to know which characters are special in an unquoted element.
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// A value stored as `jsonb`: `PostgresJSON(order)` as a parameter, `PostgresJSON<Order>` when decoding.
public struct PostgresJSON<Value> {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}

extension PostgresJSON: Sendable where Value: Sendable {}
extension PostgresJSON: Equatable where Value: Equatable {}

extension PostgresJSON: PostgresEncodable, PostgresArrayElement where Value: Encodable {
    public static var postgresType: UInt32 { PostgresType.jsonb }
    public static var postgresArrayType: UInt32 { PostgresType.jsonbArray }
    public func postgresText() throws -> String {
        do {
            let data = try JSONEncoder().encode(value)
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw PostgresEncodingFailure("JSON encoding of \(Value.self) failed: \(error)")
        }
    }
}

enum PostgresBytea {
    static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes bytea hex output (`\x0a1b…`).
    static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count % 2 == 0, text.first == UInt8(ascii: "\\"),
              text[text.startIndex + 1] == UInt8(ascii: "x") else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity((text.count - 2) / 2)
        var i = text.startIndex + 2
        while i < text.endIndex {
            guard let hi = nibble(text[i]), let lo = nibble(text[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
