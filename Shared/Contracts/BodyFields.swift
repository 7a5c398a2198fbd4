import Foundation

/// Reads the members of a JSON object body, each fault a 400 naming its field (`prefix` + member): the
/// one way services validate request bodies they read as `JSONValue`.
public struct BodyFields: Sendable {
    public let object: [String: JSONValue]
    public let prefix: String

    public init(_ object: [String: JSONValue], allowed: Set<String>, prefix: String = "") throws {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            let name = prefix + String(unknown.prefix(64))
            throw APIError.badRequest("unknown member \(name)", field: name)
        }
        self.object = object
        self.prefix = prefix
    }

    public init(_ value: JSONValue, allowed: Set<String>, field: String) throws {
        guard case .object(let object) = value else {
            throw APIError.badRequest("\(field.isEmpty ? "the body" : field) must be a JSON object", field: field.isEmpty ? "$" : field)
        }
        try self.init(object, allowed: allowed, prefix: field.isEmpty ? "" : field + ".")
    }

    public func has(_ key: String) -> Bool { object[key] != nil && object[key] != .null }

    /// A string of `length` characters without control characters (newlines allowed when `multiline`).
    public func string(_ key: String, length: ClosedRange<Int> = 1...100, multiline: Bool = false) throws -> String {
        guard let value = try optionalString(key, length: length, multiline: multiline) else {
            throw APIError.badRequest("\(prefix + key) is required", field: prefix + key)
        }
        return value
    }

    public func optionalString(_ key: String, length: ClosedRange<Int> = 1...100, multiline: Bool = false) throws -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard case .string(let text) = value, length.contains(text.count),
              !text.unicodeScalars.contains(where: { ($0.value < 0x20 && !(multiline && ($0 == "\n" || $0 == "\r" || $0 == "\t"))) || $0.value == 0x7f })
        else {
            throw APIError.badRequest("\(prefix + key) must be a string of \(length.lowerBound) to \(length.upperBound) characters"
                                      + (multiline ? "" : " without control characters"), field: prefix + key)
        }
        return text
    }

    public func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = object[key], value != .null else { return nil }
        guard case .number(let n) = value, n.rounded() == n, n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            throw APIError.badRequest("\(prefix + key) must be a whole number from \(range.lowerBound) to \(range.upperBound)",
                                      field: prefix + key)
        }
        return Int(n)
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = object[key], value != .null else { return nil }
        guard case .bool(let b) = value else { throw APIError.badRequest("\(prefix + key) must be true or false", field: prefix + key) }
        return b
    }

    public func oneOf<T: RawRepresentable>(_ key: String, _ type: T.Type) throws -> T? where T.RawValue == String, T: CaseIterable {
        guard let value = object[key], value != .null else { return nil }
        guard case .string(let text) = value, let parsed = T(rawValue: text) else {
            throw APIError.badRequest("\(prefix + key) must be one of \(T.allCases.map(\.rawValue).joined(separator: " "))",
                                      field: prefix + key)
        }
        return parsed
    }

    public func stringArray(_ key: String, maxItems: Int, length: ClosedRange<Int>) throws -> [String]? {
        guard let value = object[key], value != .null else { return nil }
        guard case .array(let items) = value, items.count <= maxItems else {
            throw APIError.badRequest("\(prefix + key) must be an array of at most \(maxItems) strings", field: prefix + key)
        }
        return try items.enumerated().map { i, item in
            guard case .string(let s) = item, length.contains(s.count), !s.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw APIError.badRequest("\(prefix + key)[\(i)] must be a string of \(length.lowerBound) to \(length.upperBound) characters",
                                          field: "\(prefix + key)[\(i)]")
            }
            return s
        }
    }
}
