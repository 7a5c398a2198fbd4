import Contracts
import Foundation

/// One event name's aggregates for every customer who has had it: total, first and last occurrence,
/// and daily counts, stored densely (one history per such customer, found by slot) so that a count
/// condition is one pass over the histories. Counting follows `AggregateFacts` exactly — day
/// granularity for windows of a day or more, first/last occurrence for shorter ones.
struct EventColumn: Sendable {
    struct History: Sendable {
        var total: Int64
        var firstAt: Date
        var lastAt: Date
        var firstDay: Int32
        /// The daily counts: `length` entries of `pool` from `start` (room for `capacity`).
        var start: UInt32
        var length: UInt16
        var capacity: UInt16
    }

    private(set) var holders = Bitmap()
    /// History index → slot; -1 marks a free entry.
    private var owners: [Int32] = []
    private var histories: [History] = []
    private var indexOf = SlotMap()
    private var free: [Int32] = []
    /// Every history's daily counts, `day << 32 | count` (day and count as Int32 bit patterns), ascending
    /// by day within a history. One flat array, not an array per customer: a 16-byte header and an
    /// allocation per customer would cost more than the counts themselves.
    private var pool: [UInt64] = []
    /// Pool entries no history uses any more (compacted away when they are half the pool).
    private var garbage = 0

    var customers: Int { indexOf.count }

    /// `slotCount`: the index's, so the slot map knows when to become an array.
    mutating func set(_ slot: Int, _ aggregate: CustomerFactsDocument.EventAggregate?, days: LocalDays, slotCount: Int) {
        let key = Int32(slot)
        guard let aggregate else {
            if let i = indexOf.remove(slot) {
                owners[Int(i)] = -1
                garbage += Int(histories[Int(i)].capacity)
                histories[Int(i)].length = 0
                histories[Int(i)].capacity = 0
                free.append(i)
                holders.remove(slot)
            }
            return
        }
        var entries: [UInt64] = []
        entries.reserveCapacity(aggregate.daily.count)
        for (text, n) in aggregate.daily {
            guard let day = LocalDays.day(parsing: text) else { continue }
            entries.append(Self.entry(day: Int32(clamping: day), count: Int32(clamping: n)))
        }
        entries.sort { Self.day(of: $0) < Self.day(of: $1) }
        if entries.count > Int(UInt16.max) { entries.removeFirst(entries.count - Int(UInt16.max)) }
        let firstDay = Int32(clamping: days.day(of: aggregate.firstAt))
        var history = History(total: aggregate.total, firstAt: aggregate.firstAt, lastAt: aggregate.lastAt,
                              firstDay: firstDay, start: 0, length: UInt16(entries.count), capacity: 0)
        let existing = indexOf[slot]
        if let i = existing, Int(histories[Int(i)].capacity) >= entries.count {
            history.start = histories[Int(i)].start
            history.capacity = histories[Int(i)].capacity
        } else {
            if let i = existing { garbage += Int(histories[Int(i)].capacity) }
            history.start = UInt32(pool.count)
            history.capacity = UInt16(entries.count)
            pool.reserveGently(pool.count + entries.count)
            pool.append(contentsOf: entries)
        }
        for (k, entry) in entries.enumerated() { pool[Int(history.start) + k] = entry }
        if let i = existing {
            histories[Int(i)] = history
        } else if let i = free.popLast() {
            histories[Int(i)] = history
            owners[Int(i)] = key
            indexOf.set(slot, i, slotCount: slotCount)
        } else {
            histories.reserveGently(histories.count + 1)
            histories.append(history)
            owners.reserveGently(owners.count + 1)
            owners.append(key)
            indexOf.set(slot, Int32(histories.count - 1), slotCount: slotCount)
        }
        holders.insert(slot)
        if garbage > 1 << 16 && garbage * 2 > pool.count { compact() }
    }

    /// The slots of `universe` satisfying `condition` at `now` (its `where` is not read: aggregates
    /// can't answer it, and rules with one are refused when saved).
    func select(_ condition: EventCondition, now: Date, days: LocalDays, universe: Bitmap) -> Bitmap {
        var out = condition.count.isSatisfied(by: 0) ? universe.subtracting(holders) : Bitmap()
        let window = Window(condition.within, now: now, days: days)
        let candidates = universe.intersection(holders)
        let candidateCount = candidates.count
        pool.withUnsafeBufferPointer { pool in
            if candidateCount * 4 < histories.count {
                // Few candidates (an earlier condition narrowed the audience): look each one up.
                candidates.forEachSlot { slot in
                    let h = histories[Int(indexOf[slot]!)]
                    if condition.count.isSatisfied(by: window.count(h, pool)) { out.insert(slot) }
                }
            } else {
                for i in 0..<histories.count {
                    let slot = Int(owners[i])
                    guard slot >= 0, candidates.contains(slot),
                          condition.count.isSatisfied(by: window.count(histories[i], pool)) else { continue }
                    out.insert(slot)
                }
            }
        }
        return out
    }

    static func entry(day: Int32, count: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: day)) << 32 | UInt64(UInt32(bitPattern: count))
    }
    static func day(of entry: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: entry >> 32)) }
    static func count(of entry: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: entry)) }

    private mutating func compact() {
        var fresh: [UInt64] = []
        fresh.reserveCapacity(pool.count - garbage)
        for i in 0..<histories.count where owners[i] >= 0 {
            let h = histories[i]
            let start = UInt32(fresh.count)
            fresh.append(contentsOf: pool[Int(h.start)..<Int(h.start) + Int(h.length)])
            histories[i].start = start
            histories[i].capacity = h.length
        }
        pool = fresh
        garbage = 0
    }

    /// A count window fixed for one query: computed once, applied to every history.
    struct Window {
        enum Kind { case all, subDay(since: Date), days(first: Int, today: Int, pastHeld: Bool) }
        let kind: Kind

        init(_ within: RuleDuration?, now: Date, days: LocalDays) {
            guard let within else { kind = .all; return }
            // The same arithmetic as AggregateFacts, so the same floating-point window.
            let since = now.addingTimeInterval(-within.timeInterval)
            let window = now.timeIntervalSince(since)
            if window < 86_400 { kind = .subDay(since: since); return }
            let count = Int((window / 86_400).rounded(.up))
            let today = days.day(of: now)
            kind = .days(first: today - (count - 1), today: today, pastHeld: count > CustomerFactsDocument.dailyWindowDays)
        }

        @inline(__always) func count(_ h: History, _ pool: UnsafeBufferPointer<UInt64>) -> Int {
            switch kind {
            case .all:
                return Int(clamping: h.total)
            case .subDay(let since):
                if h.lastAt < since { return 0 }
                if h.firstAt >= since { return Int(clamping: h.total) }
                return 1
            case .days(let first, let today, let pastHeld):
                if pastHeld && Int(h.firstDay) >= first { return Int(clamping: h.total) }
                var n = 0
                for k in Int(h.start)..<Int(h.start) + Int(h.length) {
                    let day = Int(EventColumn.day(of: pool[k]))
                    if day >= first && day <= today { n += Int(EventColumn.count(of: pool[k])) }
                }
                return n
            }
        }
    }

    /// Bytes held, roughly (histories, the daily pool, the slot map).
    var bytes: Int {
        holders.bytes + owners.capacity * 4 + histories.capacity * MemoryLayout<History>.stride
            + pool.capacity * 8 + indexOf.bytes
    }
}
