/// The operators of the rule language, by their wire names.
///
/// Attribute conditions take all of them; tag conditions take `eq ne in not_in`; event counts take
/// `eq ne gt gte lt lte`. What each one means is documented on `RuleEvaluator`.
public enum RuleOperator: String, Sendable, Hashable, CaseIterable {
    case eq, ne, gt, gte, lt, lte, between
    case `in`
    case notIn = "not_in"
    case contains
    case startsWith = "starts_with"
    case isSet = "is_set"
    case isNotSet = "is_not_set"
    /// The attribute's time lies in `[now - d, now]`.
    case within
    /// The attribute is a time older than `now - d`.
    case notWithin = "not_within"

    /// The operators a tag condition accepts.
    public static let tagOperators: [RuleOperator] = [.eq, .ne, .in, .notIn]
    /// The operators an event count accepts.
    public static let countOperators: [RuleOperator] = [.eq, .ne, .gt, .gte, .lt, .lte]

    /// The wire names of `operators`, for messages: `eq, ne, in, not_in`.
    static func names(_ operators: [RuleOperator]) -> String {
        operators.map(\.rawValue).joined(separator: ", ")
    }
}
