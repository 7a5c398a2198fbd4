import Foundation

/// The rule evaluator's view of one customer, answered from a `CustomerFactsDocument` (attributes, tags
/// and event aggregates): rule tags and lifecycle stages in the profile service, and the reference the
/// segment service's set-based engine must agree with.
///
/// **Event counts come from daily aggregates, so windows have day granularity.** A window of at least a
/// day covers `N = ceil(window / 1 day)` local days in the bank's time zone: the days from
/// `today - N + 1` through `today`, where today is the local date of `now` (`within: "30d"` evaluated on
/// 2026-03-31 counts events of 2026-03-02 … 2026-03-31, whatever their hour). A window reaching past
/// the days the document holds (`CustomerFactsDocument.dailyWindowDays`) counts every event when the
/// first occurrence is inside the window and the days held otherwise.
///
/// **Sub-day windows** (`10m`, `2h`) are best effort from the first and last occurrence: 0 when the last
/// event is before the window, every event when the first is inside it, and otherwise 1 (at least one is
/// known to be inside). "Did not within 10m" is exact; "twice within 10m" is not — the canvas, which
/// sees single events, is the place for such rules.
///
/// Without a window: the total. `where` filters are refused when a tag rule is saved (the profile's `TagRuleCheck`);
/// here they are ignored. Segments and lists are never members (refused when saved, too).
public struct AggregateFacts: CustomerFacts {
    public var document: CustomerFactsDocument
    let calendar: Calendar

    public init(document: CustomerFactsDocument, timeZone: TimeZone) {
        self.document = document
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    public func attribute(_ name: String) -> JSONValue? { document.attributes[name] }

    public func tagValues(_ code: String) -> [String]? {
        document.tags[code].map { $0.isEmpty ? [] : [$0] }
    }

    public func eventCount(name: String, matching filter: EventFilter?, since: Date?, until: Date) -> Int {
        guard let aggregate = document.events[name] else { return 0 }
        guard let since else { return Int(clamping: aggregate.total) }
        let window = until.timeIntervalSince(since)
        if window < 86_400 {
            if aggregate.lastAt < since { return 0 }
            if aggregate.firstAt >= since { return Int(clamping: aggregate.total) }
            return 1
        }
        let days = Int((window / 86_400).rounded(.up))
        guard let today = dayKey(until), let firstDay = dayKey(until, minusDays: days - 1) else { return 0 }
        if days > CustomerFactsDocument.dailyWindowDays, let first = dayKey(aggregate.firstAt), first >= firstDay {
            return Int(clamping: aggregate.total)
        }
        var count = 0
        for (day, n) in aggregate.daily where day >= firstDay && day <= today { count += n }
        return count
    }

    public func isMember(segment id: String) -> Bool { false }
    public func isMember(list id: String) -> Bool { false }

    /// `YYYY-MM-DD` of `instant`'s local date (minus `minusDays` days): sorts as the dates do.
    func dayKey(_ instant: Date, minusDays: Int = 0) -> String? {
        var components = calendar.dateComponents([.year, .month, .day], from: instant)
        if minusDays != 0 {
            guard let start = calendar.date(from: components),
                  let shifted = calendar.date(byAdding: .day, value: -minusDays, to: start) else { return nil }
            components = calendar.dateComponents([.year, .month, .day], from: shifted)
        }
        guard let y = components.year, let m = components.month, let d = components.day, y > 0, y <= 9999 else { return nil }
        // Not String(format:): this runs for every event window of every changed customer.
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }
}
