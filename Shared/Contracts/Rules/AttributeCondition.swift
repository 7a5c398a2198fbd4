import Foundation

/// `{"attr": "aum", "op": "gte", "value": 500000}`: a test of one customer attribute (or, inside an
/// event's `where`, of one event property).
///
/// Operands by operator — anything else is refused when the condition is made:
/// - `eq`, `ne`: a string, number or bool (use `is_not_set` to test for absence, not `null`);
/// - `gt`, `gte`, `lt`, `lte`: a string or number;
/// - `between`: `[lo, hi]`, two strings or numbers of comparable kinds (not a date with a timestamp),
///   with `lo <= hi`;
/// - `in`, `not_in`: a non-empty array of up to `RuleLimits.maxListValues` strings, numbers or bools;
/// - `contains`: a non-empty string, a number or a bool; `starts_with`: a non-empty string;
/// - `is_set`, `is_not_set`: no `value` member at all;
/// - `within`, `not_within`: a duration string (`"30d"`).
/// Numbers must be finite; strings at most `RuleLimits.maxStringBytes` bytes.
public struct AttributeCondition: Sendable, Hashable {
    /// The attribute (or event property) name.
    public let attribute: String
    public let op: RuleOperator
    /// The operand as written; nil exactly for `is_set` and `is_not_set`.
    public let value: JSONValue?
    /// The operand, classified once so evaluation does not re-parse it per customer.
    let operand: Operand

    enum Operand: Sendable, Hashable {
        case none
        case scalar(RuleScalar)
        case range(RuleScalar, RuleScalar)
        case list([RuleScalar])
        case duration(RuleDuration)
    }

    /// A validated condition; a fault's path is relative to the condition object (`$.value[1]`).
    public init(attribute: String, op: RuleOperator, value: JSONValue?) throws(RuleError) {
        try RuleLimits.checkName(attribute, what: "attr", path: RulePath.member(RulePath.root, "attr"))
        self.attribute = attribute
        self.op = op
        self.value = value
        self.operand = try Self.operand(for: op, value: value)
    }

    public static func == (lhs: AttributeCondition, rhs: AttributeCondition) -> Bool {
        lhs.attribute == rhs.attribute && lhs.op == rhs.op && lhs.value == rhs.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(attribute)
        hasher.combine(op)
        hasher.combine(value)
    }

    private static func operand(for op: RuleOperator, value: JSONValue?) throws(RuleError) -> Operand {
        let path = RulePath.member(RulePath.root, "value")
        if op == .isSet || op == .isNotSet {
            guard value == nil else { throw RuleError(path: path, message: "\(op.rawValue) takes no value") }
            return .none
        }
        guard let value else { throw RuleError(path: path, message: "\(op.rawValue) needs a value") }
        switch op {
        case .eq, .ne:
            return .scalar(try scalar(value, path: path, op: op, allowBool: true))
        case .gt, .gte, .lt, .lte:
            return .scalar(try scalar(value, path: path, op: op, allowBool: false))
        case .between:
            guard case .array(let bounds) = value, bounds.count == 2 else {
                throw RuleError(path: path, message: "between needs [lo, hi]")
            }
            let lo = try scalar(bounds[0], path: RulePath.element(path, 0), op: op, allowBool: false)
            let hi = try scalar(bounds[1], path: RulePath.element(path, 1), op: op, allowBool: false)
            switch (lo, hi) {
            case (.day, .timestamp), (.timestamp, .day):
                throw RuleError(path: path, message: "between bounds must both be dates or both timestamps")
            default: break
            }
            // The time zone does not matter here: a date and a timestamp were refused above.
            switch ValueComparison(timeZone: .gmt).compare(lo, hi) {
            case nil: throw RuleError(path: path, message: "between bounds must be of comparable kinds")
            case .orderedDescending?: throw RuleError(path: path, message: "between needs lo <= hi")
            default: return .range(lo, hi)
            }
        case .in, .notIn:
            guard case .array(let items) = value, !items.isEmpty else {
                throw RuleError(path: path, message: "\(op.rawValue) needs a non-empty array")
            }
            guard items.count <= RuleLimits.maxListValues else {
                throw RuleError(path: path, message: "\(op.rawValue) takes at most \(RuleLimits.maxListValues) values")
            }
            var list: [RuleScalar] = []
            list.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                list.append(try scalar(item, path: RulePath.element(path, i), op: op, allowBool: true))
            }
            return .list(list)
        case .contains:
            let s = try scalar(value, path: path, op: op, allowBool: true)
            if s.string == "" { throw RuleError(path: path, message: "contains needs a non-empty string, a number or a bool") }
            return .scalar(s)
        case .startsWith:
            guard case .string(let text) = value, !text.isEmpty else {
                throw RuleError(path: path, message: "starts_with needs a non-empty string")
            }
            try RuleLimits.checkString(text, path: path)
            return .scalar(RuleScalar(classifying: text))
        case .within, .notWithin:
            guard case .string(let text) = value else {
                throw RuleError(path: path, message: "\(op.rawValue) needs a duration string such as \"30d\"")
            }
            do { return .duration(try RuleDuration(parsing: text)) } catch { throw error.rebased(onto: path) }
        case .isSet, .isNotSet:
            return .none
        }
    }

    private static func scalar(_ value: JSONValue, path: String, op: RuleOperator, allowBool: Bool) throws(RuleError) -> RuleScalar {
        let expected = allowBool ? "a string, number or bool" : "a string or number"
        switch value {
        case .string(let text):
            try RuleLimits.checkString(text, path: path)
        case .number(let n):
            guard n.isFinite else { throw RuleError(path: path, message: "a number must be finite") }
        case .bool:
            guard allowBool else { throw RuleError(path: path, message: "\(op.rawValue) needs \(expected)") }
        case .null where op == .eq || op == .ne:
            throw RuleError(path: path, message: "\(op.rawValue) needs \(expected); test absence with is_not_set")
        case .null, .array, .object:
            throw RuleError(path: path, message: "\(op.rawValue) needs \(expected)")
        }
        guard let scalar = RuleScalar(value) else { throw RuleError(path: path, message: "\(op.rawValue) needs \(expected)") }
        return scalar
    }
}
