/// `{"tag": "payroll_customer"}` (the customer has the tag) or
/// `{"tag": "asset_tier", "op": "in", "value": ["L4", "L5"]}` (has it, with a value that passes the test).
///
/// A tag may carry values (a score tag's bucket, say). With `op`: `eq` takes one string, `in`/`not_in`
/// a non-empty array of strings; `ne` takes one string. A customer without the tag satisfies none of
/// these; see `RuleEvaluator` for the exact meaning.
public struct TagCondition: Sendable, Hashable {
    /// The tag code.
    public let tag: String
    /// nil: having the tag is enough. Otherwise one of `RuleOperator.tagOperators`.
    public let op: RuleOperator?
    /// The operand values: empty when `op` is nil, one for `eq`/`ne`, one or more for `in`/`not_in`.
    public let values: [String]

    /// A validated condition; a fault's path is relative to the condition object (`$.value[0]`).
    public init(tag: String, op: RuleOperator? = nil, values: [String] = []) throws(RuleError) {
        try RuleLimits.checkName(tag, what: "tag", path: RulePath.member(RulePath.root, "tag"))
        let valuePath = RulePath.member(RulePath.root, "value")
        switch op {
        case nil:
            guard values.isEmpty else { throw RuleError(path: valuePath, message: "a tag value needs an op") }
        case let single? where single == .eq || single == .ne:
            guard values.count == 1 else { throw RuleError(path: valuePath, message: "\(single.rawValue) needs one string") }
        case let list? where list == .in || list == .notIn:
            guard !values.isEmpty else { throw RuleError(path: valuePath, message: "\(list.rawValue) needs a non-empty array of strings") }
            guard values.count <= RuleLimits.maxListValues else {
                throw RuleError(path: valuePath, message: "\(list.rawValue) takes at most \(RuleLimits.maxListValues) values")
            }
        case let other?:
            throw RuleError(path: RulePath.member(RulePath.root, "op"),
                            message: "a tag condition takes op \(RuleOperator.names(RuleOperator.tagOperators)), not \(other.rawValue)")
        }
        let single = op == .eq || op == .ne
        for (i, value) in values.enumerated() {
            let path = single ? valuePath : RulePath.element(valuePath, i)
            guard !value.isEmpty else { throw RuleError(path: path, message: "a tag value must not be empty") }
            try RuleLimits.checkString(value, path: path)
        }
        self.tag = tag
        self.op = op
        self.values = values
    }
}
