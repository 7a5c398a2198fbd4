/// A condition of the rule language (DESIGN.md §3), over one customer. Segments, tag rules, canvas
/// splits and trigger filters all use it.
///
/// ```json
/// {"all": [cond, ...]}   {"any": [cond, ...]}   {"not": cond}
/// {"attr": "aum", "op": "gte", "value": 500000}
/// {"tag": "payroll_customer"}   {"tag": "asset_tier", "op": "in", "value": ["L4", "L5"]}
/// {"event": "fund_purchase", "where": cond, "count": {"op": "gte", "value": 2}, "within": "30d"}
/// {"segment": "seg_id"}   {"list": "list_id"}
/// ```
///
/// Make one from a document with `Rule(json:)` (which validates everything and reports the JSON path of
/// a fault), write it back with `json`, list what it reads with `inputs`, and evaluate it for a customer
/// with `RuleEvaluator`. A rule built in code from the cases is trusted: its conditions are validated by
/// their own initializers, but `all([])` (true), `any([])` (false) and nesting limits are not checked.
public indirect enum Rule: Sendable, Hashable {
    /// Every condition holds.
    case all([Rule])
    /// At least one condition holds.
    case any([Rule])
    /// The condition does not hold.
    case not(Rule)
    case attribute(AttributeCondition)
    case tag(TagCondition)
    case event(EventCondition)
    /// The customer is a member of the segment with this id.
    case segment(String)
    /// The customer is on the (white or black) list with this id.
    case list(String)
}
