import Contracts

/// One tag of every customer: who has it, and who has it with each value. A customer holds at most one
/// value of a tag (the profile's `customer_tags` key); an empty value is "the tag, without a value",
/// which no `eq`/`in` test matches (as `AggregateFacts` reads it).
struct TagColumn: Sendable {
    private(set) var holders = Bitmap()
    private(set) var byValue: [String: Bitmap] = [:]

    /// Gives the slot this tag with `value`, or takes the tag away (nil).
    mutating func set(_ slot: Int, _ value: String?) {
        if holders.contains(slot) {
            for key in Array(byValue.keys) where byValue[key]!.contains(slot) {
                byValue[key]!.remove(slot)
                if byValue[key]!.isEmpty { byValue[key] = nil }
            }
        }
        guard let value else {
            holders.remove(slot)
            return
        }
        holders.insert(slot)
        if !value.isEmpty { byValue[value, default: Bitmap()].insert(slot) }
    }

    /// The slots satisfying `condition` (the tag's semantics of `RuleEvaluator`).
    func select(_ condition: TagCondition) -> Bitmap {
        switch condition.op {
        case nil:
            return holders
        case .eq?, .in?:
            return matching(condition.values)
        case .ne?, .notIn?:
            return holders.subtracting(matching(condition.values))
        default:
            return Bitmap()   // unreachable: TagCondition admits no other operator
        }
    }

    private func matching(_ values: [String]) -> Bitmap {
        var out = Bitmap()
        for value in Set(values) { if let slots = byValue[value] { out = out.union(slots) } }
        return out
    }

    /// How many customers of `universe` hold the tag with each value (`""`: the tag without a value),
    /// most held first.
    func distribution(within universe: Bitmap) -> [(value: String, count: Int)] {
        let holding = holders.intersection(universe)
        var out: [(value: String, count: Int)] = []
        var valued = Bitmap()
        for (value, slots) in byValue {
            let mine = slots.intersection(holding)
            let n = mine.count
            if n > 0 { out.append((value, n)) }
            valued = valued.union(mine)
        }
        let bare = holding.subtracting(valued).count
        if bare > 0 { out.append(("", bare)) }
        return out.sorted { $0.count != $1.count ? $0.count > $1.count : $0.value < $1.value }
    }

    var bytes: Int { holders.bytes + byValue.values.reduce(0) { $0 + $1.bytes } }
}
