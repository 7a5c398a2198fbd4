import Foundation

/// When earned points expire, in the request's own terms: N days from the earn (floored to a UTC midnight,
/// so that one day's lots expire together) or a fixed moment.
///
/// The terms, not the date they come to, go into the Idempotency-Key fingerprint: the same request sent
/// again a second later (or after midnight) is still the same request.
enum PointsExpiry: Sendable, Equatable {
    case days(Int)
    case at(Date)

    /// Points whose request names no expiry last a year.
    static let defaultDays = 365

    /// The moment the lot expires for an earn at `now`.
    func date(earnedAt now: Date) -> Date {
        switch self {
        case .days(let n):
            let end = now.timeIntervalSince1970 + Double(n) * 86_400
            return Date(timeIntervalSince1970: (end / 86_400).rounded(.down) * 86_400)
        case .at(let date):
            return Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        }
    }

    var fingerprint: String {
        switch self {
        case .days(let n): return "days:\(n)"
        case .at(let date): return "at:\(Int(date.timeIntervalSince1970.rounded(.down)))"
        }
    }
}
