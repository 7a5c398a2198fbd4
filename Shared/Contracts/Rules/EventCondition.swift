/// `{"event": "fund_purchase", "where": cond, "count": {"op": "gte", "value": 2}, "within": "30d"}`:
/// how many times the customer did something.
///
/// - `where` (optional) filters the events by their properties. It may hold only `attr`, `all`, `any`
///   and `not` conditions, and its `attr` names are property names, tested with the attribute semantics.
/// - `count` defaults to `gte 1` (did it at least once); `{"op": "eq", "value": 0}` is "did not".
/// - `within` (optional) counts only events in `[now - within, now]`; without it, all time.
public struct EventCondition: Sendable, Hashable {
    /// The event name.
    public let event: String
    /// The property filter, or nil for every event of that name.
    public let filter: Rule?
    public let count: CountCondition
    public let within: RuleDuration?

    /// A validated condition; a fault's path is relative to the condition object (`$.where.all[0]`).
    public init(event: String, where filter: Rule? = nil, count: CountCondition = .atLeastOne,
                within: RuleDuration? = nil) throws(RuleError) {
        try RuleLimits.checkName(event, what: "event", path: RulePath.member(RulePath.root, "event"))
        if let filter {
            try Self.checkPropertyFilter(filter, path: RulePath.member(RulePath.root, "where"))
        }
        self.event = event
        self.filter = filter
        self.count = count
        self.within = within
    }

    /// Only `attr`, `all`, `any` and `not` make sense over one event's properties.
    private static func checkPropertyFilter(_ rule: Rule, path: String) throws(RuleError) {
        switch rule {
        case .attribute:
            return
        case .not(let inner):
            try checkPropertyFilter(inner, path: RulePath.member(path, "not"))
        case .all(let items), .any(let items):
            let key = if case .all = rule { "all" } else { "any" }
            for (i, item) in items.enumerated() {
                try checkPropertyFilter(item, path: RulePath.element(RulePath.member(path, key), i))
            }
        case .tag, .event, .segment, .list:
            throw RuleError(path: path, message: "only attr, all, any and not conditions are allowed inside where")
        }
    }
}
