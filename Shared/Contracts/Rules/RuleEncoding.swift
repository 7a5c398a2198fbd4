extension Rule {
    /// The rule as a document, in the form `Rule(json:)` reads: `Rule(json: rule.json) == rule`.
    ///
    /// Members are written as given, except that an event's default count (`gte 1`) is left out.
    public var json: JSONValue {
        switch self {
        case .all(let rules): return .object(["all": .array(rules.map(\.json))])
        case .any(let rules): return .object(["any": .array(rules.map(\.json))])
        case .not(let rule): return .object(["not": rule.json])
        case .attribute(let c):
            var object: [String: JSONValue] = ["attr": .string(c.attribute), "op": .string(c.op.rawValue)]
            if let value = c.value { object["value"] = value }
            return .object(object)
        case .tag(let c):
            var object: [String: JSONValue] = ["tag": .string(c.tag)]
            if let op = c.op {
                object["op"] = .string(op.rawValue)
                if op == .eq || op == .ne, let value = c.values.first {
                    object["value"] = .string(value)
                } else {
                    object["value"] = .array(c.values.map { .string($0) })
                }
            }
            return .object(object)
        case .event(let c):
            var object: [String: JSONValue] = ["event": .string(c.event)]
            if let filter = c.filter { object["where"] = filter.json }
            if c.count != .atLeastOne {
                object["count"] = .object(["op": .string(c.count.op.rawValue), "value": .number(Double(c.count.value))])
            }
            if let within = c.within { object["within"] = .string(within.description) }
            return .object(object)
        case .segment(let id): return .object(["segment": .string(id)])
        case .list(let id): return .object(["list": .string(id)])
        }
    }
}

/// A rule travels in JSON as its document.
///
/// Decoding validates like `Rule(json:)`; a fault throws the 422 `APIError` `rule_invalid` (not a
/// `DecodingError`, which the HTTP layer would answer with a 400), whose `details.path` starts with the
/// rule's place in the enclosing body: `{"rule": {"all": []}}` fails at `$.rule.all`.
extension Rule: Codable {
    public init(from decoder: any Decoder) throws {
        let document = try JSONValue(from: decoder)
        do {
            try self.init(json: document, base: Self.path(of: decoder.codingPath))
        } catch {
            throw error.apiError
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }

    private static func path(of codingPath: [any CodingKey]) -> String {
        codingPath.reduce(RulePath.root) { path, key in
            if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                return RulePath.element(path, index)
            }
            return RulePath.member(path, key.stringValue)
        }
    }
}
