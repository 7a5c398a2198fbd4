import Contracts
import Foundation
import Postgres

/// Creates the monthly partitions of `events` (`events_y2026m01`, UTC month bounds) before events of
/// those months are written, so that nothing lands in `events_default`.
///
/// DDL takes a strong lock on `events`, so partitions are created in a short transaction of their own,
/// never inside an ingestion transaction; concurrent replicas serialize on an advisory lock and
/// `IF NOT EXISTS` makes a lost race harmless. Months known to exist are cached: after the first batch
/// of a month, ingestion costs no catalog query. (A partition dropped behind the service's back — a
/// retention job — is recreated only after a restart; its events meanwhile go to the default partition.)
///
/// Thread-safety: `known` and `loaded` are guarded by `lock`; DDL runs outside it.
final class EventPartitions: @unchecked Sendable {
    /// A calendar month in UTC; only ever built from a validated `Date`, so the identifiers and bounds
    /// written into DDL are digits we formatted.
    struct Month: Hashable, Comparable, Sendable {
        let year: Int
        let month: Int

        init(year: Int, month: Int) {
            self.year = year
            self.month = month
        }

        /// The UTC month of `date` (civil-from-days arithmetic: no Calendar on the hot path).
        init(_ date: Date) {
            let days = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let mp = (5 * dayOfYear + 2) / 153
            let m = mp < 10 ? mp + 3 : mp - 9
            year = yearOfEra + era * 400 + (m <= 2 ? 1 : 0)
            month = m
        }

        var next: Month { month == 12 ? Month(year: year + 1, month: 1) : Month(year: year, month: month + 1) }
        var tableName: String { "events_y" + Self.digits(year, 4) + "m" + Self.digits(month, 2) }
        var lowerBound: String { Self.digits(year, 4) + "-" + Self.digits(month, 2) + "-01 00:00:00+00" }

        static func digits(_ value: Int, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }

        static func < (a: Month, b: Month) -> Bool { (a.year, a.month) < (b.year, b.month) }

        /// The month of a partition table name (`events_yYYYYmMM`), or nil for any other table.
        init?(tableName: String) {
            let b = Array(tableName.utf8)
            guard b.count == 15, tableName.hasPrefix("events_y"), b[12] == UInt8(ascii: "m"),
                  b[8..<12].allSatisfy({ $0 >= 48 && $0 <= 57 }), b[13..<15].allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let y = Int(String(decoding: b[8..<12], as: UTF8.self)),
                  let m = Int(String(decoding: b[13..<15], as: UTF8.self)), (1...12).contains(m) else { return nil }
            self.init(year: y, month: m)
        }
    }

    private let database: PostgresPool
    private let lock = NSLock()
    private var known: Set<Month> = []
    private var loaded = false

    init(database: PostgresPool) {
        self.database = database
    }

    /// Ensures a partition exists for the month of every date in `dates`.
    func ensure(covering dates: [Date]) throws {
        var months = Set<Month>()
        for date in dates { months.insert(Month(date)) }
        lock.lock()
        let isLoaded = loaded
        var missing = months.subtracting(known)
        lock.unlock()
        if missing.isEmpty { return }
        if !isLoaded {
            let existing = try existingMonths()
            lock.lock()
            known.formUnion(existing)
            loaded = true
            missing = months.subtracting(known)
            lock.unlock()
            if missing.isEmpty { return }
        }
        try create(missing.sorted())
        lock.lock()
        known.formUnion(missing)
        lock.unlock()
    }

    /// The months whose partitions exist now.
    func existingMonths() throws -> Set<Month> {
        let rows = try database.query("""
            SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'events'::regclass
            """)
        var months = Set<Month>()
        for row in rows {
            let name: String = try row.decode("name")
            if let month = Month(tableName: name) { months.insert(month) }
        }
        return months
    }

    private func create(_ months: [Month]) throws {
        try database.transaction { conn in
            // One creator at a time per schema (the key mixes in the schema: services may share a database).
            _ = try conn.query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.events_partitions'))")
            for month in months where (1...9999).contains(month.year) && (1...12).contains(month.month) {
                let upper = month.next
                try conn.execute("""
                    CREATE TABLE IF NOT EXISTS \(month.tableName) PARTITION OF events
                        FOR VALUES FROM ('\(month.lowerBound)') TO ('\(upper.lowerBound)')
                    """)
            }
        }
    }
}
