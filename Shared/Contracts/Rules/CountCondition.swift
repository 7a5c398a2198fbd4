/// `{"op": "gte", "value": 2}`: how many matching events an event condition asks for.
public struct CountCondition: Sendable, Hashable {
    /// One of `RuleOperator.countOperators` (`eq ne gt gte lt lte`).
    public let op: RuleOperator
    /// A whole number, 0…`RuleLimits.maxCount`.
    public let value: Int

    /// The default when a condition names no count: at least one event.
    public static let atLeastOne = CountCondition(checked: .gte, 1)
    /// `eq 0`: the customer did not do it.
    public static let none = CountCondition(checked: .eq, 0)

    /// A validated count; a fault's path is relative to the count object (`$.op`, `$.value`).
    public init(op: RuleOperator, value: Int) throws(RuleError) {
        guard RuleOperator.countOperators.contains(op) else {
            throw RuleError(path: RulePath.member(RulePath.root, "op"),
                            message: "a count takes op \(RuleOperator.names(RuleOperator.countOperators)), not \(op.rawValue)")
        }
        guard value >= 0, value <= RuleLimits.maxCount else {
            throw RuleError(path: RulePath.member(RulePath.root, "value"),
                            message: "a count is a whole number from 0 to \(RuleLimits.maxCount)")
        }
        self.init(checked: op, value)
    }

    private init(checked op: RuleOperator, _ value: Int) {
        self.op = op
        self.value = value
    }

    /// Whether `count` events satisfy this condition.
    public func isSatisfied(by count: Int) -> Bool {
        switch op {
        case .eq: count == value
        case .ne: count != value
        case .gt: count > value
        case .gte: count >= value
        case .lt: count < value
        case .lte: count <= value
        default: false
        }
    }
}
