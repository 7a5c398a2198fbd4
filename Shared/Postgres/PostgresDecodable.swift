import Foundation

/// One field of a result row as received in text format, handed to `PostgresDecodable.decode`.
public struct PostgresCell: Sendable {
    /// The raw text-format bytes, or nil for SQL NULL.
    public let bytes: ArraySlice<UInt8>?
    /// The column's type OID (`PostgresType`), or `unknown` for elements of unknown array types.
    public let type: UInt32

    public init(bytes: ArraySlice<UInt8>?, type: UInt32) {
        self.bytes = bytes
        self.type = type
    }

    /// The non-NULL text, or a failure naming the NULL.
    public func requireText() throws(PostgresDecodingFailure) -> String {
        guard let bytes else { throw PostgresDecodingFailure("unexpected NULL (decode as an Optional)") }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Thrown by `PostgresDecodable.decode`; the row reports it as `PostgresError.decoding` with the column.
public struct PostgresDecodingFailure: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A Swift type that can be read from a result column.
public protocol PostgresDecodable {
    static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Wrapped? {
        guard cell.bytes != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}

extension String: PostgresDecodable {
    /// Any column can be read as its text representation.
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> String {
        try cell.requireText()
    }
}

private let integerTypes: Set<UInt32> = [PostgresType.int2, PostgresType.int4, PostgresType.int8, PostgresType.oid,
                                         PostgresType.numeric, PostgresType.text, PostgresType.varchar,
                                         PostgresType.unknown]

private func decodeInteger<T: FixedWidthInteger>(_ cell: PostgresCell, _: T.Type) throws(PostgresDecodingFailure) -> T {
    guard integerTypes.contains(cell.type) else {
        throw PostgresDecodingFailure("not an integer column")
    }
    let text = try cell.requireText()
    guard let value = T(text) else {
        throw PostgresDecodingFailure("'\(text.prefix(64))' is not a \(T.bitWidth)-bit integer")
    }
    return value
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int { try decodeInteger(cell, Int.self) }
}
extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int64 { try decodeInteger(cell, Int64.self) }
}
extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int32 { try decodeInteger(cell, Int32.self) }
}
extension Int16: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int16 { try decodeInteger(cell, Int16.self) }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Bool {
        switch try cell.requireText() {
        case "t", "true": return true
        case "f", "false": return false
        case let other: throw PostgresDecodingFailure("'\(other.prefix(64))' is not a boolean")
        }
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Double {
        let text = try cell.requireText()
        guard let value = Double(text) else { throw PostgresDecodingFailure("'\(text.prefix(64))' is not a number") }
        return value
    }
}

extension Decimal: PostgresDecodable {
    /// Exact: parsed from the decimal text, never through `Double`. A value with more significant
    /// digits than `Decimal` holds (38) is an error, not a silent rounding.
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Decimal {
        let text = try cell.requireText()
        guard let value = PostgresNumeric.parse(text) else {
            throw PostgresDecodingFailure("'\(text.prefix(64))' cannot be represented exactly as Decimal")
        }
        return value
    }
}

extension Date: PostgresDecodable {
    /// From `timestamptz` (any offset), `timestamp` and `date` (taken as UTC), or RFC 3339 text.
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Date {
        let text = try cell.requireText()
        let naive = cell.type == PostgresType.timestamp || cell.type == PostgresType.date
        return try PostgresTimestamp.parse(text, naiveIsUTC: naive).get()
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> UUID {
        let text = try cell.requireText()
        guard let uuid = UUID(uuidString: text) else { throw PostgresDecodingFailure("'\(text.prefix(64))' is not a UUID") }
        return uuid
    }
}

extension Data: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Data {
        Data(try PostgresBytes.decode(from: cell).bytes)
    }
}

/// `bytea` as `[UInt8]` (arrays of `UInt8` are not used for `smallint[]`, so a wrapper keeps it explicit).
public struct PostgresBytes: PostgresDecodable, PostgresEncodable, PostgresArrayElement, Sendable, Equatable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public static var postgresType: UInt32 { PostgresType.bytea }
    public static var postgresArrayType: UInt32 { PostgresType.byteaArray }
    public func postgresText() throws -> String { PostgresBytea.hex(bytes) }
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> PostgresBytes {
        guard let bytes = cell.bytes else { throw PostgresDecodingFailure("unexpected NULL (decode as an Optional)") }
        guard cell.type == PostgresType.bytea || cell.type == PostgresType.unknown else {
            throw PostgresDecodingFailure("not a bytea column")
        }
        guard let decoded = PostgresBytea.decodeHex(bytes) else {
            throw PostgresDecodingFailure("not bytea hex output")
        }
        return PostgresBytes(decoded)
    }
}

extension PostgresJSON: PostgresDecodable where Value: Decodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> PostgresJSON<Value> {
        guard let bytes = cell.bytes else { throw PostgresDecodingFailure("unexpected NULL (decode as an Optional)") }
        do {
            return PostgresJSON(try JSONDecoder().decode(Value.self, from: Data(bytes)))
        } catch {
            throw PostgresDecodingFailure("JSON does not decode as \(Value.self): \(error)")
        }
    }
}

/// Arrays, including multi-dimensional ones as nested Swift arrays (`[[Int]]`) and NULL elements
/// as optionals (`[String?]`). A NULL element decoded into a non-optional element type is an error.
extension Array: PostgresDecodable where Element: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> [Element] {
        guard let bytes = cell.bytes else { throw PostgresDecodingFailure("unexpected NULL (decode as an Optional)") }
        let elements = try PostgresArrayLiteral.parse(bytes)
        let elementType = PostgresType.elementType(ofArray: cell.type)
        var out: [Element] = []
        out.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            do {
                out.append(try Element.decode(from: PostgresCell(bytes: element.map { $0[...] },
                                                                 type: element?.first == UInt8(ascii: "{") ? cell.type : elementType)))
            } catch {
                throw PostgresDecodingFailure("element \(i + 1): \(error.reason)")
            }
        }
        return out
    }
}

/// Exact numeric text → Decimal.
enum PostgresNumeric {
    static func parse(_ text: String) -> Decimal? {
        if let value = parseShort(text) { return value }
        return parseGeneral(text)
    }

    /// The common case without Foundation's string parsing: `[-]digits[.digits]` whose significant
    /// digits fit a `UInt64` (19 of them), built exactly from the integer mantissa and a power of ten.
    /// Nil hands the text to `parseGeneral` (longer mantissas, odd forms, and every malformed text).
    static func parseShort(_ text: String) -> Decimal? {
        var text = text
        return text.withUTF8 { b -> Decimal? in
            var i = 0
            var negative = false
            if i < b.count, b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            var mantissa: UInt64 = 0
            var significant = 0         // digits in `mantissa`, leading zeros not counted
            var fractionDigits = 0      // fraction digits taken into `mantissa`
            var heldZeros = 0           // fraction zeros kept back until a non-zero digit follows them
            var sawDigit = false
            var inFraction = false
            func append(_ d: UInt64) -> Bool {
                if mantissa == 0 && d == 0 { return true }
                guard significant < 19 else { return false }   // 19 digits always fit a UInt64
                mantissa = mantissa * 10 + d
                significant += 1
                return true
            }
            while i < b.count {
                let c = b[i]
                i += 1
                if c == UInt8(ascii: ".") {
                    guard !inFraction else { return nil }
                    inFraction = true
                    continue
                }
                guard c >= 0x30 && c <= 0x39 else { return nil }
                sawDigit = true
                let d = UInt64(c - 0x30)
                if !inFraction {
                    guard append(d) else { return nil }
                } else if d == 0 {
                    heldZeros += 1
                } else {
                    for _ in 0..<heldZeros { guard append(0) else { return nil } }
                    guard append(d) else { return nil }
                    fractionDigits += heldZeros + 1
                    heldZeros = 0
                }
            }
            guard sawDigit, fractionDigits <= 100 else { return nil }
            if mantissa == 0 { return Decimal.zero }   // -0 and 0.000 are zero (a negative zero would be NaN)
            return Decimal(sign: negative ? .minus : .plus, exponent: -fractionDigits, significand: Decimal(mantissa))
        }
    }

    static func parseGeneral(_ text: String) -> Decimal? {
        if text == "NaN" { return Decimal.nan }
        var bytes = Substring(text)
        var negative = false
        if bytes.first == "-" { negative = true; bytes = bytes.dropFirst() } else if bytes.first == "+" { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !(parts[0].isEmpty && (parts.count == 1 || parts[1].isEmpty)),
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        var integer = String(parts[0].drop(while: { $0 == "0" }))
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        while fraction.last == "0" { fraction.removeLast() }
        // Digits between the first and last non-zero digit must fit Decimal's 38-digit mantissa.
        var significant = Substring(integer + fraction).drop(while: { $0 == "0" })
        while significant.last == "0" { significant = significant.dropLast() }
        guard significant.count <= 38 else { return nil }
        if integer.isEmpty { integer = "0" }
        let isZero = significant.isEmpty
        let canonical = (negative && !isZero ? "-" : "") + integer + (fraction.isEmpty ? "" : "." + fraction)
        guard let value = Decimal(string: canonical), value.description == canonical else { return nil }
        return value
    }
}

/// PostgreSQL array literal syntax: `{a,"b c",NULL,"x\"y"}`, optional `[1:3]=` bounds, nested braces.
enum PostgresArrayLiteral {
    /// Elements unescaped; nil for NULL; sub-arrays returned as their raw `{…}` text.
    static func parse(_ text: ArraySlice<UInt8>) throws(PostgresDecodingFailure) -> [[UInt8]?] {
        let b = Array(text)
        var i = 0
        func fail(_ why: String) -> PostgresDecodingFailure { PostgresDecodingFailure("malformed array literal: \(why)") }
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
        if b.first == UInt8(ascii: "[") {
            guard let eq = b.firstIndex(of: UInt8(ascii: "=")) else { throw fail("dimension without '='") }
            i = eq + 1
        }
        guard i < b.count, b[i] == UInt8(ascii: "{") else { throw fail("expected '{'") }
        i += 1
        var out: [[UInt8]?] = []
        while i < b.count, isSpace(b[i]) { i += 1 }
        if i < b.count, b[i] == UInt8(ascii: "}") {
            guard i + 1 == b.count else { throw fail("trailing characters") }
            return []
        }
        while true {
            while i < b.count, isSpace(b[i]) { i += 1 }
            guard i < b.count else { throw fail("unterminated") }
            if b[i] == UInt8(ascii: "\"") {
                i += 1
                var element: [UInt8] = []
                var closed = false
                while i < b.count {
                    let c = b[i]
                    if c == UInt8(ascii: "\\") {
                        guard i + 1 < b.count else { throw fail("dangling backslash") }
                        element.append(b[i + 1]); i += 2
                    } else if c == UInt8(ascii: "\"") {
                        i += 1; closed = true; break
                    } else {
                        element.append(c); i += 1
                    }
                }
                guard closed else { throw fail("unterminated quoted element") }
                out.append(element)
            } else if b[i] == UInt8(ascii: "{") {
                let start = i
                var depth = 0
                var inQuotes = false
                while i < b.count {
                    let c = b[i]
                    if inQuotes {
                        if c == UInt8(ascii: "\\") { i += 1 } else if c == UInt8(ascii: "\"") { inQuotes = false }
                    } else if c == UInt8(ascii: "\"") {
                        inQuotes = true
                    } else if c == UInt8(ascii: "{") {
                        depth += 1
                    } else if c == UInt8(ascii: "}") {
                        depth -= 1
                        if depth == 0 { i += 1; break }
                    }
                    i += 1
                }
                guard depth == 0, i <= b.count else { throw fail("unbalanced braces") }
                out.append(Array(b[start..<i]))
            } else {
                var element: [UInt8] = []
                var escaped = false
                while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: "}") {
                    if b[i] == UInt8(ascii: "\\") {
                        guard i + 1 < b.count else { throw fail("dangling backslash") }
                        element.append(b[i + 1]); i += 2; escaped = true
                    } else {
                        element.append(b[i]); i += 1
                    }
                }
                while let last = element.last, isSpace(last) { element.removeLast() }
                if element.isEmpty { throw fail("empty element") }
                if !escaped, element.count == 4, String(decoding: element, as: UTF8.self).uppercased() == "NULL" {
                    out.append(nil)
                } else {
                    out.append(element)
                }
            }
            while i < b.count, isSpace(b[i]) { i += 1 }
            guard i < b.count else { throw fail("unterminated") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            guard b[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            guard i + 1 == b.count else { throw fail("trailing characters") }
            return out
        }
    }
}
