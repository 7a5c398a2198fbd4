/// What a rule reads: services check the names against their catalogs when a rule is saved, and
/// re-evaluate a stored rule when one of its inputs changes for a customer.
///
/// A rule with time windows (an event's `within`, or a `within`/`not_within` test, also on an event
/// property) can change its result as time passes with no new input; `shortestWindow` is the shortest
/// such window, to choose how often to re-evaluate.
public struct RuleInputs: Sendable, Hashable {
    /// Customer attributes tested (not event properties).
    public var attributes: Set<String> = []
    public var tags: Set<String> = []
    public var events: Set<String> = []
    /// For each event with a `where`, the property names it tests.
    public var eventProperties: [String: Set<String>] = [:]
    public var segments: Set<String> = []
    public var lists: Set<String> = []
    /// The shortest time window anywhere in the rule; nil when it has none.
    public var shortestWindow: RuleDuration?

    /// True when the result can change with time alone.
    public var hasTimeWindows: Bool { shortestWindow != nil }

    public init() {}

    mutating func addWindow(_ window: RuleDuration) {
        if let current = shortestWindow, current.seconds <= window.seconds { return }
        shortestWindow = window
    }
}

extension Rule {
    /// Every name this rule reads and its shortest time window.
    public var inputs: RuleInputs {
        var inputs = RuleInputs()
        collect(into: &inputs, event: nil)
        return inputs
    }

    /// `event` is the event whose `where` this rule is, whose `attr` names are then properties.
    private func collect(into inputs: inout RuleInputs, event: String?) {
        switch self {
        case .all(let rules), .any(let rules):
            for rule in rules { rule.collect(into: &inputs, event: event) }
        case .not(let rule):
            rule.collect(into: &inputs, event: event)
        case .attribute(let c):
            if let event {
                inputs.eventProperties[event, default: []].insert(c.attribute)
            } else {
                inputs.attributes.insert(c.attribute)
            }
            if case .duration(let window) = c.operand { inputs.addWindow(window) }
        case .tag(let c):
            inputs.tags.insert(c.tag)
        case .event(let c):
            inputs.events.insert(c.event)
            if let window = c.within { inputs.addWindow(window) }
            c.filter?.collect(into: &inputs, event: c.event)
        case .segment(let id):
            inputs.segments.insert(id)
        case .list(let id):
            inputs.lists.insert(id)
        }
    }
}
