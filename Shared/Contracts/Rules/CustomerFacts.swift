import Foundation

/// What a rule may ask about one customer. The profile service answers from its tables and aggregates,
/// a canvas from the customer it is moving, tests from a `CustomerSnapshot`.
public protocol CustomerFacts {
    /// The attribute's value; nil or `.null` means it is not set.
    func attribute(_ name: String) -> JSONValue?
    /// The tag's values: nil when the customer does not have the tag, `[]` when it has it with no value.
    func tagValues(_ code: String) -> [String]?
    /// How many events named `name` occurred in `[since, until]` (both ends included; no lower bound when
    /// `since` is nil) whose properties pass `filter` (every event when nil).
    func eventCount(name: String, matching filter: EventFilter?, since: Date?, until: Date) -> Int
    func isMember(segment id: String) -> Bool
    func isMember(list id: String) -> Bool
}

/// An event condition's `where`, ready to test one event's properties with the evaluator's semantics
/// (its time zone, and its `now` for `within` tests on properties).
///
/// A store that can translate `condition` into its own query may do so instead of calling `matches`,
/// but it must give the same answers.
public struct EventFilter: Sendable {
    /// The `where` condition: only `attr`, `all`, `any` and `not`, with property names as `attr` names.
    public let condition: Rule
    public let evaluator: RuleEvaluator
    public let now: Date

    public init(condition: Rule, evaluator: RuleEvaluator, now: Date) {
        self.condition = condition
        self.evaluator = evaluator
        self.now = now
    }

    /// Whether an event with these properties passes the filter. A missing property is "not set".
    public func matches(_ properties: [String: JSONValue]) -> Bool {
        evaluator.matches(condition, properties: properties, now: now)
    }
}
