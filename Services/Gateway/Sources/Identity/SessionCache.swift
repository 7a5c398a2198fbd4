import Foundation
import HTTP

/// Recently validated bearer tokens, so that most requests skip the database.
///
/// Keyed by the token's SHA-256 (the raw token is never kept). Entries live for the store's cache TTL
/// (never past the credential's own expiry); a logout, revocation or change of a user evicts its
/// entries on this replica at once, and other replicas notice within the TTL. Size is bounded: when
/// full, expired entries go first, then everything (a cold cache costs only database round trips).
///
/// Thread-safety: all mutable state is guarded by `lock`.
final class SessionCache: @unchecked Sendable {
    private struct Entry {
        let caller: AuthenticatedCaller
        let expiresAt: UInt64
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    let capacity: Int

    init(capacity: Int = 50_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    func lookup(_ tokenHash: String, now: UInt64 = MonotonicClock.nanoseconds()) -> AuthenticatedCaller? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[tokenHash] else { return nil }
        if entry.expiresAt <= now {
            entries[tokenHash] = nil
            return nil
        }
        return entry.caller
    }

    func store(_ caller: AuthenticatedCaller, for tokenHash: String, ttl: TimeInterval,
               now: UInt64 = MonotonicClock.nanoseconds()) {
        guard ttl > 0 else { return }
        let expiresAt = now + UInt64(ttl * 1e9)
        lock.lock()
        defer { lock.unlock() }
        if entries[tokenHash] == nil, entries.count >= capacity {
            entries = entries.filter { $0.value.expiresAt > now }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        entries[tokenHash] = Entry(caller: caller, expiresAt: expiresAt)
    }

    func evict(tokenHash: String) {
        lock.lock()
        entries[tokenHash] = nil
        lock.unlock()
    }

    /// Drops every entry of this user (its sessions) or key.
    func evict(where matches: (AuthenticatedCaller) -> Bool) {
        lock.lock()
        entries = entries.filter { !matches($0.value.caller) }
        lock.unlock()
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}
