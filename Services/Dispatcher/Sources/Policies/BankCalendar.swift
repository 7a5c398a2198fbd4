import Foundation

/// Days and times of day in the bank's time zone: what caps count by and quiet hours are written in.
///
/// Thread-safety: immutable; `Calendar` values are copied per call.
struct BankCalendar: Sendable {
    let timeZone: TimeZone

    var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// `YYYY-MM-DD` of the local day `offset` days from the one holding `date`.
    func day(of date: Date, offset: Int = 0) -> String {
        let c = calendar
        let start = c.startOfDay(for: date)
        let shifted = offset == 0 ? start : c.date(byAdding: .day, value: offset, to: start) ?? start
        let parts = c.dateComponents([.year, .month, .day], from: shifted)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// When the quiet window holding `date` ends, or nil when `date` is outside it.
    func endOfQuiet(_ window: SendPolicy.QuietHours, at date: Date) -> Date? {
        guard let start = LocalTime(window.start), let end = LocalTime(window.end) else { return nil }
        let c = calendar
        let parts = c.dateComponents([.hour, .minute], from: date)
        let now = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let midnight = c.startOfDay(for: date)
        func at(_ minutes: Int, dayOffset: Int) -> Date? {
            guard let day = c.date(byAdding: .day, value: dayOffset, to: midnight) else { return nil }
            return c.date(bySettingHour: minutes / 60, minute: minutes % 60, second: 0, of: day)
        }
        if start.minutes < end.minutes {
            return (start.minutes <= now && now < end.minutes) ? at(end.minutes, dayOffset: 0) : nil
        }
        // Wraps midnight: 21:00–08:00 is quiet from 21:00 to midnight and from midnight to 08:00.
        if now >= start.minutes { return at(end.minutes, dayOffset: 1) }
        if now < end.minutes { return at(end.minutes, dayOffset: 0) }
        return nil
    }
}
