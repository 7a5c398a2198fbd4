extension Rule {
    /// Parses and validates a rule document.
    ///
    /// Every fault throws a `RuleError` naming its JSON path (see `RuleError`): a condition that is not
    /// an object, has none or several of the kind members, or has an unknown member; a member of the
    /// wrong type; an unknown operator or one the condition does not take; an operand that does not fit
    /// its operator (see `AttributeCondition`, `TagCondition`, `CountCondition`); an empty `all`/`any`;
    /// a `tag`, `event`, `segment` or `list` inside `where`; a bad duration; nesting deeper than
    /// `RuleLimits.maxDepth` or more than `RuleLimits.maxNodes` conditions. The work done is bounded by
    /// those limits whatever the input, and no input crashes it.
    ///
    /// - Parameter base: the path of the rule inside an enclosing document, for error paths
    ///   (`"$.rule"` makes a fault read `$.rule.all[0].op`).
    public init(json: JSONValue, base: String = "$") throws(RuleError) {
        var parser = RuleParser()
        self = try parser.condition(json, path: base, depth: 1, inWhere: false)
    }
}

/// One parse: counts the conditions seen so far against `RuleLimits.maxNodes`.
struct RuleParser {
    private var nodes = 0

    private static let kinds = ["all", "any", "not", "attr", "tag", "event", "segment", "list"]
    private static let whereKinds: Set<String> = ["all", "any", "not", "attr"]
    private static let members: [String: [String]] = [
        "all": ["all"], "any": ["any"], "not": ["not"],
        "attr": ["attr", "op", "value"], "tag": ["tag", "op", "value"],
        "event": ["event", "where", "count", "within"],
        "segment": ["segment"], "list": ["list"],
    ]

    mutating func condition(_ json: JSONValue, path: String, depth: Int, inWhere: Bool) throws(RuleError) -> Rule {
        guard depth <= RuleLimits.maxDepth else {
            throw RuleError(path: path, message: "conditions must not nest deeper than \(RuleLimits.maxDepth) levels")
        }
        nodes += 1
        guard nodes <= RuleLimits.maxNodes else {
            throw RuleError(path: path, message: "a rule has at most \(RuleLimits.maxNodes) conditions")
        }
        guard case .object(let object) = json else { throw RuleError(path: path, message: "a condition must be an object") }
        let present = Self.kinds.filter { object[$0] != nil }
        guard let kind = present.first else {
            throw RuleError(path: path, message: "a condition needs one of \(Self.kinds.joined(separator: ", "))")
        }
        guard present.count == 1 else {
            throw RuleError(path: path, message: "a condition has exactly one of \(Self.kinds.joined(separator: ", ")); this one has \(present.joined(separator: " and "))")
        }
        if inWhere && !Self.whereKinds.contains(kind) {
            throw RuleError(path: path, message: "only attr, all, any and not conditions are allowed inside where")
        }
        let allowed = Self.members[kind] ?? []
        if let unknown = object.keys.filter({ !allowed.contains($0) }).min() {
            throw RuleError(path: RulePath.member(path, unknown),
                            message: "unknown member in a \(kind) condition; it takes \(allowed.joined(separator: ", "))")
        }

        switch kind {
        case "all", "any":
            let itemsPath = RulePath.member(path, kind)
            guard case .array(let items)? = object[kind], !items.isEmpty else {
                throw RuleError(path: itemsPath, message: "\(kind) needs a non-empty array of conditions")
            }
            var rules: [Rule] = []
            for (i, item) in items.enumerated() {
                rules.append(try condition(item, path: RulePath.element(itemsPath, i), depth: depth + 1, inWhere: inWhere))
            }
            return kind == "all" ? .all(rules) : .any(rules)
        case "not":
            return .not(try condition(object["not"] ?? .null, path: RulePath.member(path, "not"), depth: depth + 1, inWhere: inWhere))
        case "attr":
            return .attribute(try attribute(object, path: path))
        case "tag":
            return .tag(try tag(object, path: path))
        case "event":
            return .event(try event(object, path: path, depth: depth))
        default: // segment, list
            let id = try Self.string(object, kind, path: path)
            try RuleLimits.checkName(id, what: kind, path: RulePath.member(path, kind))
            return kind == "segment" ? .segment(id) : .list(id)
        }
    }

    private func attribute(_ object: [String: JSONValue], path: String) throws(RuleError) -> AttributeCondition {
        let name = try Self.string(object, "attr", path: path)
        let op = try Self.op(object, path: path, allowed: RuleOperator.allCases)
        do {
            return try AttributeCondition(attribute: name, op: op, value: object["value"])
        } catch {
            throw error.rebased(onto: path)
        }
    }

    private func tag(_ object: [String: JSONValue], path: String) throws(RuleError) -> TagCondition {
        let code = try Self.string(object, "tag", path: path)
        var op: RuleOperator?
        var values: [String] = []
        let valuePath = RulePath.member(path, "value")
        if object["op"] != nil {
            let tagOp = try Self.op(object, path: path, allowed: RuleOperator.tagOperators)
            op = tagOp
            switch object["value"] {
            case nil:
                throw RuleError(path: valuePath, message: "\(tagOp.rawValue) needs a value")
            case .string(let s)? where tagOp == .eq || tagOp == .ne:
                values = [s]
            case .array(let items)? where tagOp == .in || tagOp == .notIn:
                guard items.count <= RuleLimits.maxListValues else {
                    throw RuleError(path: valuePath, message: "\(tagOp.rawValue) takes at most \(RuleLimits.maxListValues) values")
                }
                for (i, item) in items.enumerated() {
                    guard case .string(let s) = item else {
                        throw RuleError(path: RulePath.element(valuePath, i), message: "tag values are strings")
                    }
                    values.append(s)
                }
            default:
                let expected = tagOp == .eq || tagOp == .ne ? "a string" : "a non-empty array of strings"
                throw RuleError(path: valuePath, message: "\(tagOp.rawValue) needs \(expected)")
            }
        } else if object["value"] != nil {
            throw RuleError(path: RulePath.member(path, "op"), message: "a tag condition with a value needs an op")
        }
        do {
            return try TagCondition(tag: code, op: op, values: values)
        } catch {
            throw error.rebased(onto: path)
        }
    }

    private mutating func event(_ object: [String: JSONValue], path: String, depth: Int) throws(RuleError) -> EventCondition {
        let name = try Self.string(object, "event", path: path)
        var filter: Rule?
        if let whereJSON = object["where"] {
            filter = try condition(whereJSON, path: RulePath.member(path, "where"), depth: depth + 1, inWhere: true)
        }
        var count = CountCondition.atLeastOne
        if let countJSON = object["count"] {
            count = try Self.count(countJSON, path: RulePath.member(path, "count"))
        }
        var within: RuleDuration?
        if object["within"] != nil {
            let text = try Self.string(object, "within", path: path, expected: "a duration string such as \"30d\"")
            do { within = try RuleDuration(parsing: text) } catch { throw error.rebased(onto: RulePath.member(path, "within")) }
        }
        do {
            return try EventCondition(event: name, where: filter, count: count, within: within)
        } catch {
            throw error.rebased(onto: path)
        }
    }

    private static func count(_ json: JSONValue, path: String) throws(RuleError) -> CountCondition {
        guard case .object(let object) = json else {
            throw RuleError(path: path, message: "count must be an object such as {\"op\": \"gte\", \"value\": 2}")
        }
        if let unknown = object.keys.filter({ $0 != "op" && $0 != "value" }).min() {
            throw RuleError(path: RulePath.member(path, unknown), message: "unknown member in a count; it takes op, value")
        }
        let op = try Self.op(object, path: path, allowed: RuleOperator.countOperators)
        let valuePath = RulePath.member(path, "value")
        guard let valueJSON = object["value"] else { throw RuleError(path: valuePath, message: "value is required") }
        guard case .number(let n) = valueJSON, n.isFinite, n.rounded() == n, n >= 0, n <= Double(RuleLimits.maxCount) else {
            throw RuleError(path: valuePath, message: "a count is a whole number from 0 to \(RuleLimits.maxCount)")
        }
        do {
            return try CountCondition(op: op, value: Int(n))
        } catch {
            throw error.rebased(onto: path)
        }
    }

    /// The operator in member `op`, which must be one of `allowed`.
    private static func op(_ object: [String: JSONValue], path: String, allowed: [RuleOperator]) throws(RuleError) -> RuleOperator {
        let text = try string(object, "op", path: path, expected: "a string")
        let opPath = RulePath.member(path, "op")
        guard let op = RuleOperator(rawValue: text) else {
            let shown = text.unicodeScalars.count > 32 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(32))) + "…" : text
            throw RuleError(path: opPath, message: "unknown op \"\(shown)\"; expected one of \(RuleOperator.names(allowed))")
        }
        guard allowed.contains(op) else {
            throw RuleError(path: opPath, message: "op \(op.rawValue) is not allowed here; expected one of \(RuleOperator.names(allowed))")
        }
        return op
    }

    /// The string in member `key`, which is required.
    private static func string(_ object: [String: JSONValue], _ key: String, path: String,
                               expected: String = "a string") throws(RuleError) -> String {
        let memberPath = RulePath.member(path, key)
        switch object[key] {
        case .string(let s)?: return s
        case nil: throw RuleError(path: memberPath, message: "\(key) is required")
        default: throw RuleError(path: memberPath, message: "\(key) must be \(expected)")
        }
    }
}
