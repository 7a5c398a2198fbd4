import CLibPQ

/// The named statements of one session: a data statement (SELECT, INSERT, UPDATE, DELETE, WITH) sent
/// a second time is prepared once and from then on executed by name, so the server no longer parses,
/// analyses and plans it on every call (a third of PostgreSQL's CPU on the event path, measured).
/// A statement seen only once stays unnamed: preparing it would cost a second round trip for nothing.
///
/// Bounded: past `capacity` statements the session's are all deallocated and the cache starts again.
/// Prepared statements outlive rollbacks, and the server re-plans them itself when a table they use
/// changes or `search_path` moves; a statement whose result columns changed fails once with 0A000
/// and is forgotten (`forget`).
///
/// Re-prepared as it ages (`replan`), after `firstReplan`, then twice as long each time up to
/// `longestReplan`. The server keeps a statement's generic plan until the statistics of its tables
/// change, and a table that grows from empty waits for autovacuum (a minute or more): meanwhile a plan
/// made while it was tiny scans it whole (seen: `messages` and `journeys` looked up by sequential
/// scan while they grew by 500 rows a second, which tripled the real-time path's latency). A fresh
/// `PREPARE` plans against the tables' current sizes.
///
/// Thread-safety: owned by one `PostgresConnection`, used by the thread that holds it.
struct PreparedStatementCache {
    struct Key: Hashable {
        let sql: String
        let types: [Oid]
    }

    /// A named statement and when it is to be planned again (monotonic nanoseconds).
    private struct Entry {
        let name: String
        var replanAt: UInt64
        var interval: UInt64
    }

    /// Named statements at most; also the size of the once-seen set.
    let capacity: Int
    /// Age of a statement at its first re-prepare; each later one waits twice as long, up to `longestReplan`.
    let firstReplan: UInt64
    let longestReplan: UInt64
    private var names: [Key: Entry] = [:]
    private var seenOnce: Set<Key> = []
    private var counter = 0

    init(capacity: Int = 256, firstReplan: Double = 2, longestReplan: Double = 600) {
        self.capacity = capacity
        self.firstReplan = UInt64(firstReplan * 1e9)
        self.longestReplan = UInt64(longestReplan * 1e9)
    }

    /// What to do with a statement about to be sent.
    enum Plan {
        /// Send it unnamed (first sighting, or not a data statement).
        case unnamed
        /// Execute the statement already prepared under this name.
        case execute(String)
        /// Prepare it under this name first (`remember` once the server accepted it).
        case prepare(String)
        /// Deallocate and prepare it again under its name (`replanned` once done), then execute it.
        case replan(String)
    }

    /// - Parameter now: monotonic nanoseconds (`DispatchTime.now().uptimeNanoseconds`).
    mutating func plan(for key: Key, now: UInt64) -> Plan {
        if let entry = names[key] { return now >= entry.replanAt ? .replan(entry.name) : .execute(entry.name) }
        guard Self.isDataStatement(key.sql) else { return .unnamed }
        if seenOnce.remove(key) == nil {
            if seenOnce.count >= capacity { seenOnce.removeAll(keepingCapacity: true) }
            seenOnce.insert(key)
            return .unnamed
        }
        counter += 1
        return .prepare("lattice_s\(counter)")
    }

    mutating func remember(_ key: Key, as name: String, now: UInt64) {
        names[key] = Entry(name: name, replanAt: now &+ firstReplan, interval: firstReplan)
    }

    /// `key` was prepared again at `now`: the next time is twice as far.
    mutating func replanned(_ key: Key, now: UInt64) {
        guard var entry = names[key] else { return }
        entry.interval = min(entry.interval &* 2, longestReplan)
        entry.replanAt = now &+ entry.interval
        names[key] = entry
    }

    mutating func forget(_ key: Key) { names[key] = nil }

    /// True when the cache is full; the caller then deallocates every statement and calls `reset`.
    var isFull: Bool { names.count >= capacity }

    mutating func reset() { names.removeAll(keepingCapacity: true) }

    /// Statements worth naming: those that plan. Utility statements (BEGIN, SET, CREATE, COPY …) are
    /// cheap to parse, and some may not be prepared at all.
    static func isDataStatement(_ sql: String) -> Bool {
        // The first word, lower-cased, packed into an integer: no allocation for the BEGINs and COMMITs
        // that pass here on every transaction. Seven letters at most, so "selected" is not "select".
        var word: UInt64 = 0
        var letters = 0
        for byte in sql.utf8 {
            if letters == 0 && (byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 40) { continue }
            guard (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122), letters < 7 else { break }
            word = word << 8 | UInt64(byte | 0x20)
            letters += 1
        }
        return dataStatementWords.contains(word)
    }

    private static let dataStatementWords: Set<UInt64> = Set(["select", "insert", "update", "delete", "with"].map { name in
        name.utf8.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    })
}
