import Contracts
import Foundation
import HTTP

/// The query parameters reports share, each checked with a 400 naming it: `format` (json | csv),
/// `from` and `to` (bank-local days, YYYY-MM-DD, at most 366 days apart; default the last 30 days
/// to today), and `orgPath` (narrows the caller's scope to a unit inside it).
public struct ReportQuery: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case json, csv }

    public var format: Format
    public var from: String
    public var to: String
    /// The org path the report covers: the caller's own, or a unit below it.
    public var orgPath: String

    public static let maxDays = 366

    public init(query: QueryParameters, caller: CallerIdentity, calendar: BankDays, allowed: Set<String>) throws {
        for (name, _) in query where !allowed.contains(name) {
            let shown = String(name.prefix(64))
            throw APIError.badRequest("unknown query parameter \(shown)", field: shown)
        }
        if let f = query["format"] {
            guard let parsed = Format(rawValue: f) else { throw APIError.badRequest("format must be json or csv", field: "format") }
            format = parsed
        } else {
            format = .json
        }
        let today = calendar.today()
        let to = try Self.day(query["to"], field: "to") ?? today
        let from = try Self.day(query["from"], field: "from") ?? BankDays.add(days: -29, to: to)
        guard from <= to else { throw APIError.badRequest("from must not be after to", field: "from") }
        guard BankDays.daysBetween(from, to) < Self.maxDays else {
            throw APIError.badRequest("from and to may be at most \(Self.maxDays) days apart", field: "from")
        }
        self.from = from
        self.to = to
        if let path = query["orgPath"], !path.isEmpty {
            guard path.hasPrefix("/"), path.hasSuffix("/"), path.utf8.count <= 500,
                  !path.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw APIError.badRequest("orgPath must be an org unit path such as /hq/sh/", field: "orgPath")
            }
            guard caller.covers(orgPath: path) else {
                throw APIError(status: 403, code: "org_out_of_scope", message: "orgPath is outside the caller's org unit",
                               details: .object(["field": "orgPath"]))
            }
            orgPath = path
        } else {
            orgPath = caller.orgPath
        }
    }

    /// A YYYY-MM-DD day between 2000 and 2200, or nil when absent.
    static func day(_ text: String?, field: String) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard BankDays.isDay(text) else {
            throw APIError.badRequest("\(field) must be a day written YYYY-MM-DD", field: field)
        }
        return text
    }

    /// A path parameter naming a canvas: 1…64 characters of letters, digits and `_ - . :`.
    public static func canvasId(_ text: String) throws -> String {
        guard (1...64).contains(text.utf8.count),
              text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || [45, 46, 58, 95].contains($0) })
        else { throw APIError.badRequest("the canvas id must be 1 to 64 letters, digits or _ - . :", field: "id") }
        return text
    }
}

/// Bank-local days as YYYY-MM-DD text (the bank's time zone from LATTICE_TIMEZONE).
public struct BankDays: Sendable {
    public let timeZone: TimeZone

    public init(timeZone: TimeZone) { self.timeZone = timeZone }

    public func today(now: Date = Date()) -> String { day(of: now) }

    public func day(of date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    static func components(_ day: String) -> (Int, Int, Int)? {
        let parts = day.split(separator: "-", omittingEmptySubsequences: false)
        guard day.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        return (y, m, d)
    }

    static func isDay(_ text: String) -> Bool {
        guard let (y, m, d) = components(text), (2000...2200).contains(y), (1...12).contains(m), d >= 1 else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return d <= lengths[m - 1]
    }

    /// Days since 1970-01-01 of a valid day.
    static func ordinal(_ day: String) -> Int {
        guard let (y, m, d) = components(day) else { return 0 }
        return CivilDays.days(year: y, month: m, day: d)
    }

    static func daysBetween(_ a: String, _ b: String) -> Int { ordinal(b) - ordinal(a) }

    static func add(days: Int, to day: String) -> String {
        let (y, m, d) = CivilDays.date(days: ordinal(day) + days)
        return String(format: "%04d-%02d-%02d", y, m, d)
    }
}
