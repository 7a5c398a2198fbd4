/// Slot → entry index for the customers who have something (an event's histories): a hash map while
/// they are few, an array over every slot once they are many — at 4 bytes a slot it is then both
/// smaller than the map (about 20 bytes an entry) and a direct load instead of a hash probe.
struct SlotMap: Sendable {
    private var sparse: [Int32: Int32] = [:]
    /// Per slot, the entry (-1: none); in use once `isDense`.
    private var dense: [Int32] = []
    private(set) var isDense = false
    private(set) var count = 0

    subscript(slot: Int) -> Int32? {
        if isDense {
            guard slot < dense.count else { return nil }
            let entry = dense[slot]
            return entry < 0 ? nil : entry
        }
        return sparse[Int32(slot)]
    }

    /// Maps `slot` to `entry`; `slotCount` (the index's) decides when the array pays for itself.
    mutating func set(_ slot: Int, _ entry: Int32, slotCount: Int) {
        if isDense {
            if slot >= dense.count { dense.reserveGently(max(slot + 1, slotCount)); dense.append(contentsOf: repeatElement(-1, count: max(slot + 1, slotCount) - dense.count)) }
            if dense[slot] < 0 { count += 1 }
            dense[slot] = entry
            return
        }
        if sparse.updateValue(entry, forKey: Int32(slot)) == nil { count += 1 }
        // An entry for more than one slot in five: the array is the smaller.
        if count * 5 > slotCount && count > 1_024 { becomeDense(slotCount: slotCount) }
    }

    @discardableResult
    mutating func remove(_ slot: Int) -> Int32? {
        if isDense {
            guard slot < dense.count, dense[slot] >= 0 else { return nil }
            let entry = dense[slot]
            dense[slot] = -1
            count -= 1
            return entry
        }
        let entry = sparse.removeValue(forKey: Int32(slot))
        if entry != nil { count -= 1 }
        return entry
    }

    var bytes: Int { isDense ? dense.capacity * 4 : sparse.capacity * 12 }

    private mutating func becomeDense(slotCount: Int) {
        var array = [Int32](repeating: -1, count: slotCount)
        for (slot, entry) in sparse { array[Int(slot)] = entry }
        dense = array
        sparse = [:]
        isDense = true
    }
}
