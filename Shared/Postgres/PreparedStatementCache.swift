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
/// Thread-safety: owned by one `PostgresConnection`, used by the thread that holds it.
struct PreparedStatementCache {
    struct Key: Hashable {
        let sql: String
        let types: [Oid]
    }

    /// Named statements at most; also the size of the once-seen set.
    let capacity: Int
    private var names: [Key: String] = [:]
    private var seenOnce: Set<Key> = []
    private var counter = 0

    init(capacity: Int = 256) { self.capacity = capacity }

    /// What to do with a statement about to be sent.
    enum Plan {
        /// Send it unnamed (first sighting, or not a data statement).
        case unnamed
        /// Execute the statement already prepared under this name.
        case execute(String)
        /// Prepare it under this name first (`remember` once the server accepted it).
        case prepare(String)
    }

    mutating func plan(for key: Key) -> Plan {
        if let name = names[key] { return .execute(name) }
        guard Self.isDataStatement(key.sql) else { return .unnamed }
        if seenOnce.remove(key) == nil {
            if seenOnce.count >= capacity { seenOnce.removeAll(keepingCapacity: true) }
            seenOnce.insert(key)
            return .unnamed
        }
        counter += 1
        return .prepare("lattice_s\(counter)")
    }

    mutating func remember(_ key: Key, as name: String) { names[key] = name }

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
