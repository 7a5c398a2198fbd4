import Contracts
import Foundation

/// The segment service's in-memory view of every customer, built for set-based rule evaluation: a
/// dense slot per customer (stable for the life of the index, never reused), one dictionary-encoded
/// column per attribute, one bitmap per tag and tag value, one bitmap per org path, and per event name
/// the customers' aggregates. Fed with the profile's `CustomerFactsDocument`s (snapshot, then changes).
///
/// Thread-safety: a value; the owner serializes updates and shares copies with readers (the columns
/// are copy-on-write arrays, so a reader's copy costs nothing until the next update).
public struct CustomerIndex: Sendable {
    let days: LocalDays
    /// Slot → customer id.
    private(set) var ids: [String] = []
    private var slotOf: [String: Int32] = [:]
    /// Slots of customers that exist.
    private(set) var alive = Bitmap()
    private var orgCodes: [UInt32] = []
    private var orgPaths: [String] = []
    private var orgCodeOf: [String: UInt32] = [:]
    private var byOrgPath: [Bitmap] = []
    private(set) var attributes: [String: AttributeColumn] = [:]
    private(set) var tags: [String: TagColumn] = [:]
    private(set) var events: [String: EventColumn] = [:]

    public init(timeZone: TimeZone) { days = LocalDays(timeZone: timeZone) }

    /// Slots handed out so far (the length every bitmap of this index may reach).
    public var slotCount: Int { ids.count }
    /// Customers that exist.
    public var count: Int { alive.count }

    func slot(of customerId: String) -> Int? { slotOf[customerId].map(Int.init) }
    public func customerId(at slot: Int) -> String { ids[slot] }

    /// Takes in one customer's current facts; a document with `exists == false` removes the customer.
    public mutating func apply(_ document: CustomerFactsDocument) {
        guard document.exists, let orgPath = document.orgPath else {
            if let slot = slot(of: document.customerId) { clear(slot) }
            return
        }
        let slot: Int
        if let known = slotOf[document.customerId] {
            slot = Int(known)
        } else {
            slot = ids.count
            ids.append(document.customerId)
            slotOf[document.customerId] = Int32(slot)
            orgCodes.append(0)
        }
        alive.insert(slot)
        setOrgPath(slot, orgPath)

        for name in Array(attributes.keys) where document.attributes[name] == nil && attributes[name]!.value(at: slot) != nil {
            attributes[name]!.set(slot, nil)
        }
        for (name, value) in document.attributes { attributes[name, default: AttributeColumn()].set(slot, value) }

        for code in Array(tags.keys) where document.tags[code] == nil && tags[code]!.holders.contains(slot) {
            tags[code]!.set(slot, nil)
        }
        for (code, value) in document.tags { tags[code, default: TagColumn()].set(slot, value) }

        for name in Array(events.keys) where document.events[name] == nil && events[name]!.holders.contains(slot) {
            events[name]!.set(slot, nil, days: days)
        }
        for (name, aggregate) in document.events { events[name, default: EventColumn()].set(slot, aggregate, days: days) }
    }

    /// The existing customers whose org path lies in the subtree of `orgPath` (a path like `/hq/sh/`).
    func scope(_ orgPath: String) -> Bitmap {
        var out = Bitmap()
        for (code, path) in orgPaths.enumerated() where path.hasPrefix(orgPath) { out = out.union(byOrgPath[code]) }
        return out.intersection(alive)
    }

    func orgPath(at slot: Int) -> String? {
        guard slot < orgCodes.count, orgCodes[slot] != 0 else { return nil }
        return orgPaths[Int(orgCodes[slot]) - 1]
    }

    private mutating func setOrgPath(_ slot: Int, _ path: String) {
        let old = orgCodes[slot]
        if old != 0 && orgPaths[Int(old) - 1] == path { return }
        if old != 0 { byOrgPath[Int(old) - 1].remove(slot) }
        let code: UInt32
        if let known = orgCodeOf[path] {
            code = known
        } else {
            orgPaths.append(path)
            byOrgPath.append(Bitmap())
            code = UInt32(orgPaths.count)
            orgCodeOf[path] = code
        }
        orgCodes[slot] = code
        byOrgPath[Int(code) - 1].insert(slot)
    }

    private mutating func clear(_ slot: Int) {
        alive.remove(slot)
        let old = orgCodes[slot]
        if old != 0 { byOrgPath[Int(old) - 1].remove(slot) }
        orgCodes[slot] = 0
        for name in Array(attributes.keys) where attributes[name]!.value(at: slot) != nil { attributes[name]!.set(slot, nil) }
        for code in Array(tags.keys) where tags[code]!.holders.contains(slot) { tags[code]!.set(slot, nil) }
        for name in Array(events.keys) where events[name]!.holders.contains(slot) { events[name]!.set(slot, nil, days: days) }
    }

    /// What the index holds in memory, roughly, in bytes.
    public var bytes: Int {
        var total = ids.reduce(0) { $0 + 16 + max(0, $1.utf8.count - 15) } + slotOf.count * 32 + alive.bytes
        total += orgCodes.capacity * 4 + byOrgPath.reduce(0) { $0 + $1.bytes }
        total += attributes.values.reduce(0) { $0 + $1.bytes }
        total += tags.values.reduce(0) { $0 + $1.bytes }
        total += events.values.reduce(0) { $0 + $1.bytes }
        return total
    }
}
