import Contracts
import Foundation

/// The segment service's in-memory view of every customer, built for set-based rule evaluation: a
/// dense slot per customer (stable for the life of the index, never reused), one dictionary-encoded
/// column per attribute (`AttributeColumn`), one bitmap per tag and tag value, a code per slot for its
/// org unit, and per event name the customers' aggregates. Fed with the profile's `CustomerFactsDocument`s (snapshot, then changes).
///
/// Thread-safety: a value; the owner serializes updates and shares copies with readers (the columns
/// are copy-on-write arrays, so a reader's copy costs nothing until the next update).
public struct CustomerIndex: Sendable {
    let days: LocalDays
    /// Slot → customer id.
    private(set) var ids: [String] = []
    private var idHeapBytes = 0
    private var slotOf: [String: Int32] = [:]
    /// Slots of customers that exist.
    private(set) var alive = Bitmap()
    /// Slot → 1 + index in `orgPaths` (0: removed).
    private var orgCodes = CodeArray()
    private var orgPaths: [String] = []
    private var orgCodeOf: [String: UInt32] = [:]
    /// Distinct values after which an attribute column may switch to keys (see `AttributeColumn`).
    let keyedAfter: Int
    private(set) var attributes: [String: AttributeColumn] = [:]
    private(set) var tags: [String: TagColumn] = [:]
    private(set) var events: [String: EventColumn] = [:]

    /// `keyedAfter`: tests lower it to exercise keyed columns on small populations.
    public init(timeZone: TimeZone, keyedAfter: Int = 4_096) {
        days = LocalDays(timeZone: timeZone)
        self.keyedAfter = max(1, keyedAfter)
    }

    /// Slots handed out so far (the length every bitmap of this index may reach).
    public var slotCount: Int { ids.count }
    /// Customers that exist.
    public var count: Int { alive.count }

    /// The slot of a customer the index has seen (removed ones keep theirs: test `alive`).
    public func slot(of customerId: String) -> Int? { slotOf[customerId].map(Int.init) }
    /// Whether the customer in `slot` exists.
    public func exists(_ slot: Int) -> Bool { alive.contains(slot) }
    /// The value of attribute `name` of the customer in `slot`, nil when not set.
    public func attribute(_ name: String, at slot: Int) -> JSONValue? { attributes[name]?.value(at: slot) }
    /// The org path of the customer in `slot`.
    public func orgPath(at slot: Int) -> String? {
        let code = orgCodes[slot]
        return code == 0 ? nil : orgPaths[Int(code) - 1]
    }
    public func customerId(at slot: Int) -> String { ids[slot] }

    /// Takes in one customer's current facts; a document with `exists == false` removes the customer.
    public mutating func apply(_ document: CustomerFactsDocument) {
        guard document.exists, let orgPath = document.orgPath else {
            if let slot = slot(of: document.customerId) { clear(slot) }
            return
        }
        let slot: Int
        var isNew = false
        if let known = slotOf[document.customerId] {
            slot = Int(known)
            // A removed customer's slot holds nothing any more, like a new one.
            isNew = !alive.contains(slot)
        } else {
            slot = ids.count
            ids.reserveGently(ids.count + 1)
            ids.append(document.customerId)
            // Ids of up to 15 UTF-8 bytes live inside the String; longer ones on the heap.
            let length = document.customerId.utf8.count
            if length > 15 { idHeapBytes += 32 + length }
            slotOf[document.customerId] = Int32(slot)
            isNew = true
        }
        alive.insert(slot)
        setOrgPath(slot, orgPath)
        if isNew {
            for (name, value) in document.attributes { attributes[name, default: AttributeColumn(keyedAfter: keyedAfter)].set(slot, value) }
            for (code, value) in document.tags { tags[code, default: TagColumn()].set(slot, value) }
            for (name, aggregate) in document.events { events[name, default: EventColumn()].set(slot, aggregate, days: days, slotCount: ids.count) }
            return
        }

        for name in Array(attributes.keys) where document.attributes[name] == nil && attributes[name]!.isSet(slot) {
            attributes[name]!.set(slot, nil)
        }
        for (name, value) in document.attributes { attributes[name, default: AttributeColumn(keyedAfter: keyedAfter)].set(slot, value) }

        for code in Array(tags.keys) where document.tags[code] == nil && tags[code]!.holders.contains(slot) {
            tags[code]!.set(slot, nil)
        }
        for (code, value) in document.tags { tags[code, default: TagColumn()].set(slot, value) }

        for name in Array(events.keys) where document.events[name] == nil && events[name]!.holders.contains(slot) {
            events[name]!.set(slot, nil, days: days, slotCount: ids.count)
        }
        for (name, aggregate) in document.events { events[name, default: EventColumn()].set(slot, aggregate, days: days, slotCount: ids.count) }
    }

    /// The existing customers whose org path lies in the subtree of `orgPath` (a path like `/hq/sh/`):
    /// one pass over the org codes (a bank has thousands of units; a bitmap each would cost more than
    /// the customers), or none when the subtree holds every unit or no unit.
    public func scope(_ orgPath: String) -> Bitmap {
        let inside = orgPaths.map { $0.hasPrefix(orgPath) }
        if !inside.contains(false) { return alive }
        if !inside.contains(true) { return Bitmap() }
        var table = [Bool](repeating: false, count: orgPaths.count + 1)
        for (k, yes) in inside.enumerated() { table[k + 1] = yes }
        return table.withUnsafeBufferPointer { table in
            orgCodes.withCodes { buffer in
                func scan<Code: FixedWidthInteger>(_ codes: UnsafeBufferPointer<Code>) -> Bitmap {
                    Bitmap.collect(within: alive) { slot in slot < codes.count && table[Int(codes[slot])] }
                }
                switch buffer {
                case .narrow(let codes): return scan(codes)
                case .middle(let codes): return scan(codes)
                case .wide(let codes): return scan(codes)
                }
            }
        }
    }

    private mutating func setOrgPath(_ slot: Int, _ path: String) {
        let code: UInt32
        if let known = orgCodeOf[path] {
            code = known
        } else {
            orgPaths.append(path)
            code = UInt32(orgPaths.count)
            orgCodeOf[path] = code
        }
        orgCodes.set(slot, code)
    }

    private mutating func clear(_ slot: Int) {
        alive.remove(slot)
        orgCodes.set(slot, 0)
        for name in Array(attributes.keys) where attributes[name]!.isSet(slot) { attributes[name]!.set(slot, nil) }
        for code in Array(tags.keys) where tags[code]!.holders.contains(slot) { tags[code]!.set(slot, nil) }
        for name in Array(events.keys) where events[name]!.holders.contains(slot) { events[name]!.set(slot, nil, days: days, slotCount: ids.count) }
    }

    /// How many customers of `universe` hold each value of attribute `name` (a portrait), most held
    /// first; nil when the attribute has no such distribution (see `AttributeColumn.distribution`),
    /// empty when nobody has it.
    public func distribution(ofAttribute name: String, within universe: Bitmap,
                             maximumValues: Int = 1_000) -> [(value: JSONValue, count: Int)]? {
        guard let column = attributes[name] else { return [] }
        return column.distribution(within: universe.intersection(alive), maximumValues: maximumValues)
    }

    /// How many customers of `universe` hold tag `code` with each value (`""`: without a value).
    public func distribution(ofTag code: String, within universe: Bitmap) -> [(value: String, count: Int)] {
        tags[code]?.distribution(within: universe.intersection(alive)) ?? []
    }

    /// What the index holds in memory, roughly, in bytes.
    public var bytes: Int { memory.reduce(0) { $0 + $1.bytes } }

    /// `bytes` by part, for the service's metrics and the benchmark. Arrays count their capacity, the
    /// id map about 20 bytes a bucket, a dictionary value about 96 bytes.
    public var memory: [(part: String, bytes: Int)] {
        [("customer ids", ids.capacity * 16 + idHeapBytes + slotOf.capacity * 20),
         ("org units", orgCodes.bytes + alive.bytes),
         ("attributes", attributes.values.reduce(0) { $0 + $1.bytes }),
         ("tags", tags.values.reduce(0) { $0 + $1.bytes }),
         ("events", events.values.reduce(0) { $0 + $1.bytes })]
    }
}
