import Foundation

/// Decides a rule for one customer: the one definition of what the rule language means.
///
/// **Conditions.** `all` holds when every condition holds (an empty one does), `any` when one does (an
/// empty one does not), `not` when its condition does not. Evaluation stops at the first decisive child.
///
/// **Attributes.** An attribute is *set* unless it is missing or `null`. `is_set`/`is_not_set` test just
/// that; every other operator is false for an attribute that is not set — so `{"not": cond}` is the only
/// way a missing attribute satisfies a test. For a set attribute, values compare as `ValueComparison`
/// describes (numbers and decimal strings as decimals, dates and timestamps as times, a date with a
/// timestamp by the timestamp's date in `timeZone`, two other strings as text, bools by equality only;
/// other pairs are incomparable). A string's kind is decided by its exact shape: a *decimal string* is
/// JSON number syntax without exponent or leading zeros and at most 38 digits (`"500000.00"`, not
/// `"0101"`), a *date* is `YYYY-MM-DD`, a *timestamp* is strict RFC 3339; every other string is text.
/// - `eq`: equal; false for an incomparable pair, an array or an object. `ne`: not `eq`.
/// - `gt gte lt lte`: ordered that way; false when incomparable.
/// - `between [lo, hi]`: `lo <= value <= hi`, both ends included.
/// - `in`: `eq` to one of the values; `not_in`: `eq` to none of them.
/// - `contains`: a string attribute contains the string operand (case-sensitive, by characters); an
///   array attribute has an element `eq` to the operand; false otherwise.
/// - `starts_with`: a string attribute starts with the operand (case-sensitive); false otherwise.
/// - `within d`: a timestamp in `[now - d, now]`, or a date whose local day (in `timeZone`) overlaps
///   that interval. `not_within d`: a timestamp before `now - d`, or a date whose whole day ends by
///   `now - d`. Values in the future satisfy neither; non-time values satisfy neither.
///
/// **Tags.** Without `op`: the customer has the tag. With one, the customer must have the tag and:
/// `eq v` — v is one of its values; `ne v` — v is not; `in [..]` — one of its values is listed;
/// `not_in [..]` — none is. (A tag with no values passes `ne` and `not_in`.)
///
/// **Events.** The count of events of that name, passing `where` (tested with the attribute semantics
/// above over the event's properties), that occurred in `[now - within, now]` — or at any time up to
/// `now` without `within` — compared by `count` (default `gte 1`). Windows are exact durations: `90d` is
/// 90 × 86,400 seconds. Events after `now` are not counted.
///
/// **Segments, lists.** Membership, as the facts report it.
///
/// Thread-safety: a value with no mutable state; use one from any thread.
public struct RuleEvaluator: Sendable {
    let comparison: ValueComparison

    /// `timeZone` is the bank's (configuration; DESIGN.md defaults to `Asia/Shanghai`): it decides which
    /// day a timestamp falls on.
    public init(timeZone: TimeZone) {
        comparison = ValueComparison(timeZone: timeZone)
    }

    public var timeZone: TimeZone { comparison.timeZone }

    /// Whether the customer described by `facts` satisfies `rule` at time `now`.
    public func evaluate(_ rule: Rule, for facts: some CustomerFacts, now: Date) -> Bool {
        decide(rule, facts, now)
    }

    /// Whether an event with these properties passes a `where` condition (see `EventFilter`).
    /// Conditions other than `attr`, `all`, `any` and `not` are false here.
    public func matches(_ condition: Rule, properties: [String: JSONValue], now: Date) -> Bool {
        decide(condition, EventProperties(properties: properties), now)
    }

    /// Whether an attribute (or property) with `value` (nil: not set) satisfies `condition` at `now`.
    public func evaluate(_ condition: AttributeCondition, value: JSONValue?, now: Date) -> Bool {
        evaluate(condition, prepared: value.map(PreparedValue.init), now: now)
    }

    /// `evaluate(_:value:now:)` for a value classified beforehand: the same answer, without reading
    /// the value's text again (the segment engine tests each distinct value of a column this way).
    public func evaluate(_ condition: AttributeCondition, prepared: PreparedValue?, now: Date) -> Bool {
        let prepared: PreparedValue? = prepared?.json == .null ? nil : prepared
        switch condition.op {
        case .isSet: return prepared != nil
        case .isNotSet: return prepared == nil
        default: break
        }
        guard let prepared else { return false }
        let value = prepared.json
        switch (condition.op, condition.operand) {
        case (.eq, .scalar(let operand)):
            return equals(prepared, operand)
        case (.ne, .scalar(let operand)):
            return !equals(prepared, operand)
        case (.gt, .scalar(let operand)):
            return order(prepared, operand) == .orderedDescending
        case (.gte, .scalar(let operand)):
            return order(prepared, operand).map { $0 != .orderedAscending } ?? false
        case (.lt, .scalar(let operand)):
            return order(prepared, operand) == .orderedAscending
        case (.lte, .scalar(let operand)):
            return order(prepared, operand).map { $0 != .orderedDescending } ?? false
        case (.between, .range(let lo, let hi)):
            guard let fromLow = order(prepared, lo), let toHigh = order(prepared, hi) else { return false }
            return fromLow != .orderedAscending && toHigh != .orderedDescending
        case (.in, .list(let operands)):
            return operands.contains { equals(prepared, $0) }
        case (.notIn, .list(let operands)):
            return !operands.contains { equals(prepared, $0) }
        case (.contains, .scalar(let operand)):
            switch value {
            case .string(let text):
                // A string operand of any shape (decimal, date, text) is looked for as written.
                guard let needle = operand.string else { return false }
                return text.contains(needle)
            case .array(let items):
                return items.contains { comparison.equals($0, operand) }
            default:
                return false
            }
        case (.startsWith, .scalar(let operand)):
            guard case .string(let text) = value, let prefix = operand.string else { return false }
            return text.hasPrefix(prefix)
        case (.within, .duration(let window)):
            let since = now.addingTimeInterval(-window.timeInterval)
            switch time(of: prepared) {
            case .instant(let t)?: return t >= since && t <= now
            case .day(let start, let end)?: return end > since && start <= now
            case nil: return false
            }
        case (.notWithin, .duration(let window)):
            let since = now.addingTimeInterval(-window.timeInterval)
            switch time(of: prepared) {
            case .instant(let t)?: return t < since
            case .day(_, let end)?: return end <= since
            case nil: return false
            }
        default:
            // Unreachable: AttributeCondition pairs every operator with its operand kind.
            return false
        }
    }

    // MARK: -

    private func decide(_ rule: Rule, _ facts: some CustomerFacts, _ now: Date) -> Bool {
        switch rule {
        case .all(let rules):
            return rules.allSatisfy { decide($0, facts, now) }
        case .any(let rules):
            return rules.contains { decide($0, facts, now) }
        case .not(let inner):
            return !decide(inner, facts, now)
        case .attribute(let condition):
            return evaluate(condition, value: facts.attribute(condition.attribute), now: now)
        case .tag(let condition):
            guard let values = facts.tagValues(condition.tag) else { return false }
            switch condition.op {
            case nil: return true
            case .eq?, .in?: return values.contains { condition.values.contains($0) }
            case .ne?, .notIn?: return !values.contains { condition.values.contains($0) }
            default: return false // unreachable: TagCondition admits no other operator
            }
        case .event(let condition):
            let since = condition.within.map { now.addingTimeInterval(-$0.timeInterval) }
            let filter = condition.filter.map { EventFilter(condition: $0, evaluator: self, now: now) }
            let count = facts.eventCount(name: condition.event, matching: filter, since: since, until: now)
            return condition.count.isSatisfied(by: count)
        case .segment(let id):
            return facts.isMember(segment: id)
        case .list(let id):
            return facts.isMember(list: id)
        }
    }

    private func order(_ value: PreparedValue, _ operand: RuleScalar) -> ComparisonResult? {
        guard let scalar = value.scalar else { return nil }
        return comparison.compare(scalar, operand)
    }

    private func equals(_ value: PreparedValue, _ operand: RuleScalar) -> Bool {
        guard let scalar = value.scalar else { return false }
        return comparison.equals(scalar, operand)
    }

    private enum TimeValue {
        case instant(Date)
        /// A local day: `[start, end)`.
        case day(start: Date, end: Date)
    }

    /// The time a value stands for: an instant for a timestamp, the local day for a date.
    private func time(of value: PreparedValue) -> TimeValue? {
        switch value.scalar {
        case .day(let day, _)?: return .day(start: day.start(in: comparison.calendar), end: day.end(in: comparison.calendar))
        case .timestamp(let instant, _)?: return .instant(instant)
        default: return nil
        }
    }
}

/// An attribute value classified once, as the rule language reads it (a number, a decimal string, a
/// date, a timestamp, other text, a bool, or no scalar at all), for testing many conditions against it.
public struct PreparedValue: Sendable, Hashable {
    public let json: JSONValue
    let scalar: RuleScalar?

    public init(_ json: JSONValue) {
        self.json = json
        scalar = RuleScalar(json)
    }

    public static func == (lhs: PreparedValue, rhs: PreparedValue) -> Bool { lhs.json == rhs.json }
    public func hash(into hasher: inout Hasher) { hasher.combine(json) }
}

/// One event's properties seen as facts, so `where` is decided by the same code as customer attributes.
private struct EventProperties: CustomerFacts {
    let properties: [String: JSONValue]

    func attribute(_ name: String) -> JSONValue? { properties[name] }
    func tagValues(_ code: String) -> [String]? { nil }
    func eventCount(name: String, matching filter: EventFilter?, since: Date?, until: Date) -> Int { 0 }
    func isMember(segment id: String) -> Bool { false }
    func isMember(list id: String) -> Bool { false }
}
