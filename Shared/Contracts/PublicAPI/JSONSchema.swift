/// Small builders for the JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it) of the public API's
/// bodies, so the catalog reads like the shapes in DESIGN.md §3.
public enum JSONSchema {
    /// `{"$ref": "#/components/schemas/<name>"}`: a named schema of `PublicAPI.schemas`.
    public static func ref(_ name: String) -> JSONValue {
        .object(["$ref": .string("#/components/schemas/" + name)])
    }

    /// An object with these properties; `required` names the ones that must be present.
    /// Unknown properties are allowed (the API grows additively).
    public static func object(_ properties: KeyValuePairs<String, JSONValue>, required: [String] = [],
                              description: String? = nil) -> JSONValue {
        var props: [String: JSONValue] = [:]
        for (name, schema) in properties { props[name] = schema }
        var schema: [String: JSONValue] = ["type": .string("object"), "properties": .object(props)]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    /// An object whose values all follow `values` (a map).
    public static func map(_ values: JSONValue) -> JSONValue {
        .object(["type": .string("object"), "additionalProperties": values])
    }

    /// Any JSON value.
    public static let any: JSONValue = .object([:])

    public static func string(format: String? = nil, enumeration: [String]? = nil, pattern: String? = nil,
                              minLength: Int? = nil, maxLength: Int? = nil, description: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": .string("string")]
        if let format { schema["format"] = .string(format) }
        if let enumeration { schema["enum"] = .array(enumeration.map(JSONValue.string)) }
        if let pattern { schema["pattern"] = .string(pattern) }
        if let minLength { schema["minLength"] = .number(Double(minLength)) }
        if let maxLength { schema["maxLength"] = .number(Double(maxLength)) }
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    /// An RFC 3339 timestamp.
    public static let dateTime: JSONValue = string(format: "date-time")

    public static func integer(minimum: Int? = nil, maximum: Int? = nil, defaultValue: Int? = nil,
                               description: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": .string("integer")]
        if let minimum { schema["minimum"] = .number(Double(minimum)) }
        if let maximum { schema["maximum"] = .number(Double(maximum)) }
        if let defaultValue { schema["default"] = .number(Double(defaultValue)) }
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    /// A decimal number (money travels as a JSON number, stored as an exact decimal).
    public static func number(minimum: Double? = nil, description: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": .string("number")]
        if let minimum { schema["minimum"] = .number(minimum) }
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    public static let boolean: JSONValue = .object(["type": .string("boolean")])

    public static func array(_ items: JSONValue, uniqueItems: Bool = false, maxItems: Int? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": .string("array"), "items": items]
        if uniqueItems { schema["uniqueItems"] = .bool(true) }
        if let maxItems { schema["maxItems"] = .number(Double(maxItems)) }
        return .object(schema)
    }

    /// `schema` or `null`. A plain typed schema gets `"type": [t, "null"]`; anything else (a `$ref`)
    /// becomes `anyOf` with `{"type": "null"}`.
    public static func nullable(_ schema: JSONValue) -> JSONValue {
        if case .object(var fields) = schema, case .string(let type)? = fields["type"] {
            fields["type"] = .array([.string(type), .string("null")])
            if case .array(let values)? = fields["enum"] { fields["enum"] = .array(values + [.null]) }
            return .object(fields)
        }
        return .object(["anyOf": .array([schema, .object(["type": .string("null")])])])
    }

    /// A page of a list: `{"items": [item…], "nextCursor": string|null}`.
    public static func page(of item: JSONValue) -> JSONValue {
        object(["items": array(item), "nextCursor": nullable(string())], required: ["items", "nextCursor"])
    }
}
