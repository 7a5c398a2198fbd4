import Contracts
import Foundation

/// A checked change to one customer, from a `PUT` body or an import row: the same rules for both.
///
/// Keys are built-in attribute names (`aum`), custom attribute codes (flat, as import headers are, or
/// under `attributes`), `consents` and `marketingOptOut`. A key that is absent keeps its value; `null`
/// clears it. Every fault names its field (`attributes.vipLevel`, `consents.sms`).
public struct CustomerUpdate: Sendable, Equatable {
    /// Built-in fields present in the input; nil clears.
    public var fields: [CustomerField: NormalizedValue?] = [:]
    /// Custom attributes present in the input; nil removes.
    public var attributes: [String: NormalizedValue?] = [:]
    public var consents: [ConsentChange] = []

    /// Keys that are not attributes.
    static let reservedKeys: Set<String> = ["id", "attributes", "consents", "marketingOptOut", "consentSource",
                                            "tags", "lifecycle", "createdAt", "updatedAt", "version"]
    /// Channels a consent can be given for; `marketing` is the global opt-in (its refusal is the opt-out).
    public static let consentChannels = ["sms", "push", "inbox", "wechat", "wecom", "call", "email", "marketing"]

    /// A field that failed its check.
    public struct FieldError: Error, Sendable, Equatable {
        public var field: String
        public var message: String
        public var code: String

        public var apiError: APIError {
            APIError(status: 422, code: code, message: "\(field) \(message)", details: .object(["field": .string(field)]))
        }
    }

    public init() {}

    /// Checks `object` against the built-ins and `definition` (the catalog's lookup).
    public static func parse(_ object: [String: JSONValue], now: Date,
                             definition: (String) throws -> AttributeDefinition?) throws -> CustomerUpdate {
        var update = CustomerUpdate()
        update.fields.reserveCapacity(object.count)   // an import parses every row: no regrowth per key
        let defaultSource = try consentSource(object["consentSource"]) ?? "api"
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {   // sorted: the same input, the same first error
            if let field = CustomerField(rawValue: key) {
                update.fields[field] = try Self.value(value, of: field)
                continue
            }
            switch key {
            case "id", "consentSource", "tags", "lifecycle", "createdAt", "updatedAt", "version":
                continue   // the path's id wins; read-only fields of a fetched customer may be sent back
            case "attributes":
                guard case .object(let given) = value else {
                    throw FieldError(field: key, message: "must be an object", code: "attribute_invalid")
                }
                for (code, v) in given {
                    update.attributes[code] = try custom(code: code, value: v, path: "attributes.\(code)", definition: definition)
                }
            case "consents":
                guard case .object(let given) = value else {
                    throw FieldError(field: key, message: "must be an object of channel → consent", code: "consent_invalid")
                }
                for (channel, v) in given.sorted(by: { $0.key < $1.key }) {
                    update.consents.append(try consent(channel: channel, v, defaultSource: defaultSource, now: now))
                }
            case "marketingOptOut":
                guard case .bool(let out) = value else {
                    throw FieldError(field: key, message: "must be true or false", code: "consent_invalid")
                }
                update.consents.removeAll { $0.channel == "marketing" }
                update.consents.append(ConsentChange(channel: "marketing", granted: !out, source: defaultSource, changedAt: now))
            default:
                update.attributes[key] = try custom(code: key, value: value, path: key, definition: definition)
            }
        }
        return update
    }

    /// `value` for built-in `field`, checked as `parse` checks it (nil clears). An import's CSV rows
    /// call this per cell, their columns resolved once from the header.
    static func value(_ value: JSONValue, of field: CustomerField) throws(FieldError) -> NormalizedValue? {
        let normalized = try check(field: field.rawValue, value) { field.normalize($0) }
        if field == .orgId, normalized == nil {
            throw FieldError(field: field.rawValue, message: "cannot be cleared: every customer belongs to an org unit",
                             code: "attribute_invalid")
        }
        return normalized
    }

    /// `value` for the catalog attribute `definition`, checked as `parse` checks it (nil removes);
    /// `path` names it in a fault (`attributes.vipLevel`, or the flat code of an import header).
    static func value(_ value: JSONValue, of definition: AttributeDefinition, path: String) throws(FieldError) -> NormalizedValue? {
        try check(field: path, value) { definition.type.normalize($0, enumValues: definition.values) }
    }

    private static func check(field: String, _ value: JSONValue,
                               _ normalize: (JSONValue) -> Result<NormalizedValue, AttributeValueError>) throws(FieldError) -> NormalizedValue? {
        if case .null = value { return nil }
        if case .string(let s) = value, s.isEmpty { return nil }   // an empty import cell clears
        switch normalize(value) {
        case .success(let v): return v
        case .failure(let e): throw FieldError(field: field, message: e.message, code: "attribute_invalid")
        }
    }

    private static func custom(code: String, value: JSONValue, path: String,
                               definition: (String) throws -> AttributeDefinition?) throws -> NormalizedValue? {
        guard code.utf8.count <= 64, let def = try definition(code) else {
            throw FieldError(field: path, message: "is not an attribute of the catalog (GET /api/v1/attributes)",
                             code: "attribute_unknown")
        }
        return try Self.value(value, of: def, path: path)
    }

    private static func consentSource(_ value: JSONValue?) throws -> String? {
        guard let value else { return nil }
        guard case .string(let s) = value, (1...100).contains(s.count) else {
            throw FieldError(field: "consentSource", message: "must be 1 to 100 characters", code: "consent_invalid")
        }
        return s
    }

    /// `"sms": true` or `"sms": {"granted": true, "source": "branch_counter", "at": "…"}`.
    private static func consent(channel: String, _ value: JSONValue, defaultSource: String, now: Date) throws -> ConsentChange {
        let field = "consents.\(channel.prefix(32))"
        guard consentChannels.contains(channel) else {
            throw FieldError(field: field, message: "is not a channel (\(consentChannels.joined(separator: " ")))",
                             code: "consent_invalid")
        }
        switch value {
        case .bool(let granted):
            return ConsentChange(channel: channel, granted: granted, source: defaultSource, changedAt: now)
        case .object(let o):
            guard case .bool(let granted)? = o["granted"] else {
                throw FieldError(field: field + ".granted", message: "must be true or false", code: "consent_invalid")
            }
            let source = try consentSource(o["source"]).map { $0 } ?? defaultSource
            var at = now
            if let given = o["at"] {
                guard case .string(let text) = given, let date = JSONCoding.parseDate(text), date <= now.addingTimeInterval(300) else {
                    throw FieldError(field: field + ".at", message: "must be an RFC 3339 time, not in the future",
                                     code: "consent_invalid")
                }
                at = date
            }
            return ConsentChange(channel: channel, granted: granted, source: source, changedAt: at)
        default:
            throw FieldError(field: field, message: "must be true/false or {granted, source, at}", code: "consent_invalid")
        }
    }
}

/// One consent given or withdrawn, with its evidence.
public struct ConsentChange: Sendable, Equatable {
    public var channel: String
    public var granted: Bool
    public var source: String
    public var changedAt: Date
}

/// A channel's current consent, as customers show it.
public struct ConsentState: Sendable, Codable, Equatable {
    public var granted: Bool
    public var source: String
    public var changedAt: Date
}
