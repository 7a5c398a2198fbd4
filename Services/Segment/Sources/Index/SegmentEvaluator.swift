import Contracts
import Foundation

/// Selects, all at once, the customers of an index that satisfy a rule: the set-based counterpart of
/// `RuleEvaluator`, which decides one customer at a time and stays the definition of what a rule means
/// (attribute tests are even decided by it, once per distinct value). `all`/`any`/`not` become
/// intersections, unions and complements within the caller's scope; tags, org units, segments and
/// lists are bitmaps already; event counts are one pass over the event's aggregates.
///
/// Thread-safety: a value over a value; use one per query.
public struct SegmentEvaluator {
    /// Members of other segments and of lists, by id (an unknown id selects nobody; ids are checked
    /// when a rule is saved).
    public struct Memberships: Sendable {
        public var segments: [String: Bitmap] = [:]
        public var lists: [String: Bitmap] = [:]
        public init() {}
    }

    let index: CustomerIndex
    let evaluator: RuleEvaluator
    var memberships = Memberships()

    public init(index: CustomerIndex, evaluator: RuleEvaluator, memberships: Memberships = Memberships()) {
        self.index = index
        self.evaluator = evaluator
        self.memberships = memberships
    }

    /// The customers of the subtree of `orgPath` satisfying `rule` at `now`.
    public func select(_ rule: Rule, orgPath: String, now: Date) -> Bitmap {
        select(rule, within: index.scope(orgPath), now: now)
    }

    /// The slots of `universe` (existing customers) satisfying `rule` at `now`.
    public func select(_ rule: Rule, within universe: Bitmap, now: Date) -> Bitmap {
        switch rule {
        case .all(let rules):
            var selected = universe
            // Cheapest first: each condition only decides what the ones before it left.
            for rule in rules.sorted(by: { Self.cost($0) < Self.cost($1) }) {
                selected = selected.intersection(select(rule, within: selected, now: now))
                if selected.isEmpty { break }
            }
            return selected
        case .any(let rules):
            var selected = Bitmap()
            for rule in rules {
                // Only what is not selected yet needs deciding.
                let rest = universe.subtracting(selected)
                if rest.isEmpty { break }
                selected = selected.union(select(rule, within: rest, now: now))
            }
            return selected
        case .not(let inner):
            return universe.subtracting(select(inner, within: universe, now: now))
        case .attribute(let condition):
            guard let column = index.attributes[condition.attribute] else {
                return evaluator.evaluate(condition, value: nil, now: now) ? universe : Bitmap()
            }
            return column.select(condition, evaluator: evaluator, now: now, within: universe)
        case .tag(let condition):
            return index.tags[condition.tag]?.select(condition).intersection(universe) ?? Bitmap()
        case .event(let condition):
            guard let column = index.events[condition.event] else {
                return condition.count.isSatisfied(by: 0) ? universe : Bitmap()
            }
            return column.select(condition, now: now, days: index.days, universe: universe)
        case .segment(let id):
            return memberships.segments[id]?.intersection(universe) ?? Bitmap()
        case .list(let id):
            return memberships.lists[id]?.intersection(universe) ?? Bitmap()
        }
    }

    /// A rough order of the work a condition takes: bitmaps are ready, attributes are one pass over a
    /// column, event counts read every candidate's history, nested conditions all of that.
    static func cost(_ rule: Rule) -> Int {
        switch rule {
        case .tag, .segment, .list: 0
        case .attribute: 1
        case .event: 2
        case .all, .any, .not: 3
        }
    }
}
