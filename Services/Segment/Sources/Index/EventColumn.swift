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
        var firstDay: Int
        /// (day, count), ascending by day.
        var daily: [(day: Int32, count: Int32)]
    }

    private(set) var holders = Bitmap()
    /// History index → slot; -1 marks a free entry.
    private var owners: [Int32] = []
    private var histories: [History] = []
    private var indexOf: [Int32: Int32] = [:]
    private var free: [Int32] = []

    var customers: Int { indexOf.count }

    mutating func set(_ slot: Int, _ aggregate: CustomerFactsDocument.EventAggregate?, days: LocalDays) {
        let key = Int32(slot)
        guard let aggregate else {
            if let i = indexOf.removeValue(forKey: key) {
                owners[Int(i)] = -1
                histories[Int(i)].daily = []
                free.append(i)
                holders.remove(slot)
            }
            return
        }
        var daily: [(day: Int32, count: Int32)] = []
        daily.reserveCapacity(aggregate.daily.count)
        for (text, n) in aggregate.daily {
            guard let day = LocalDays.day(parsing: text) else { continue }
            daily.append((Int32(clamping: day), Int32(clamping: n)))
        }
        daily.sort { $0.day < $1.day }
        let history = History(total: aggregate.total, firstAt: aggregate.firstAt, lastAt: aggregate.lastAt,
                              firstDay: days.day(of: aggregate.firstAt), daily: daily)
        if let i = indexOf[key] {
            histories[Int(i)] = history
        } else if let i = free.popLast() {
            histories[Int(i)] = history
            owners[Int(i)] = key
            indexOf[key] = i
        } else {
            histories.append(history)
            owners.append(key)
            indexOf[key] = Int32(histories.count - 1)
        }
        holders.insert(slot)
    }

    /// The slots of `universe` satisfying `condition` at `now` (its `where` is not read: aggregates
    /// can't answer it, and rules with one are refused when saved).
    func select(_ condition: EventCondition, now: Date, days: LocalDays, universe: Bitmap) -> Bitmap {
        var out = condition.count.isSatisfied(by: 0) ? universe.subtracting(holders) : Bitmap()
        let window = Window(condition.within, now: now, days: days)
        for i in 0..<histories.count {
            let slot = owners[i]
            guard slot >= 0, condition.count.isSatisfied(by: window.count(histories[i])) else { continue }
            out.insert(Int(slot))
        }
        return out.intersection(universe)
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

        func count(_ h: History) -> Int {
            switch kind {
            case .all:
                return Int(clamping: h.total)
            case .subDay(let since):
                if h.lastAt < since { return 0 }
                if h.firstAt >= since { return Int(clamping: h.total) }
                return 1
            case .days(let first, let today, let pastHeld):
                if pastHeld && h.firstDay >= first { return Int(clamping: h.total) }
                var n = 0
                for entry in h.daily where Int(entry.day) >= first && Int(entry.day) <= today { n += Int(entry.count) }
                return n
            }
        }
    }

    /// Bytes held, roughly (histories with their daily arrays, the slot map at ~24 bytes an entry).
    var bytes: Int {
        holders.bytes + owners.capacity * 4 + histories.capacity * MemoryLayout<History>.stride
            + histories.reduce(0) { $0 + $1.daily.capacity * 8 } + indexOf.count * 24
    }
}
