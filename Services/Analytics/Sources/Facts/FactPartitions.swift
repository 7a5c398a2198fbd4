import Foundation
import Postgres
import Synchronization

/// Makes sure each fact's bank-local day has its partition before the fact is inserted.
///
/// The maintenance job makes partitions from yesterday to some days ahead; a fact outside that range
/// (a relay that was down for weeks, a producer's clock a day ahead) would otherwise wait in
/// `facts_default`, and every later creation of its day's partition would have to move it out under
/// a lock on the default partition — the race in which a row of that day arriving meanwhile makes
/// the ATTACH fail. So the ingest makes a missing partition itself, in its own transaction, before
/// its rows go in: a partition then never appears for a day whose rows sit in the default one.
///
/// Days further than `reach` from today still go to `facts_default` (a producer's bad clock must not
/// create a table per junk date); `ensure_fact_partition` moves them out if their day ever gets a
/// partition.
///
/// Thread-safety: `known` is guarded by its mutex; the rest is immutable.
final class FactPartitions: Sendable {
    let days: BankDays
    let timeZone: String
    /// Days either side of today for which a fact's arrival makes its day's partition.
    let reach: Int
    /// Days whose partition is known to exist (committed by an earlier transaction): the common case
    /// costs no query.
    private let known = Mutex<Set<String>>([])

    init(timeZone: String, reach: Int) {
        guard let zone = TimeZone(identifier: timeZone) else { preconditionFailure("unknown time zone \(timeZone)") }
        days = BankDays(timeZone: zone)
        self.timeZone = timeZone
        self.reach = reach
    }

    /// The distinct bank-local days of `facts` that lie within `reach` of `now`'s day, in order.
    func days(of facts: [Fact], now: Date) -> [String] {
        let today = BankDays.ordinal(days.today(now: now))
        // Every UTC offset in use is a multiple of 15 minutes, so a quarter hour falls in one local day:
        // one calendar computation per quarter hour instead of one per fact (a batch spans a few days).
        var byQuarter: [Int: String] = [:]
        var found = Set<String>()
        for fact in facts {
            let quarter = Int((fact.occurredAt.timeIntervalSince1970 / 900).rounded(.down))
            let day: String
            if let d = byQuarter[quarter] {
                day = d
            } else {
                day = days.day(of: fact.occurredAt)
                byQuarter[quarter] = day
            }
            found.insert(day)
        }
        return found.filter { abs(BankDays.ordinal($0) - today) <= reach }.sorted()
    }

    /// Creates the missing partitions of `facts`' days (within `reach`) on `conn`, in the caller's
    /// transaction; returns the days it created.
    @discardableResult
    func prepare(for facts: [Fact], now: Date = Date(), on conn: PostgresConnection) throws -> [String] {
        let wanted = days(of: facts, now: now)
        let unknown = known.withLock { known in wanted.filter { !known.contains($0) } }
        guard !unknown.isEmpty else { return [] }
        let rows = try conn.query("""
            SELECT d AS day, ensure_fact_partition(d::date, $2) AS created FROM unnest($1::text[]) d ORDER BY d
            """, unknown, timeZone)
        var created: [String] = [], existing: [String] = []
        for row in rows {
            let day: String = try row.decode("day")
            if try row.decode("created", as: Bool.self) { created.append(day) } else { existing.append(day) }
        }
        // A partition made here is remembered only once seen again: this transaction may still roll back.
        known.withLock { $0.formUnion(existing) }
        return created
    }
}
