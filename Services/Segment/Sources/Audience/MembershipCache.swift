import Contracts
import Foundation

/// Bitmaps of stored member sets (lists, snapshot segments), so a rule naming one does not rebuild it
/// on every request.
///
/// An entry is valid for one index generation (slots mean nothing in another) and one version of the
/// set. Ids the index did not know when the bitmap was built may arrive later through the feed, so an
/// entry that missed some is rebuilt once the index has grown — at most every `missingRecheck`
/// seconds: ids of customers deleted since would otherwise make every request on a growing index
/// read the set from PostgreSQL again (the global black list is in every request).
///
/// Thread-safety: `entries` is guarded by `lock`; builds run outside it (two requests may both build
/// the same bitmap; the last one stays).
final class MembershipCache: @unchecked Sendable {
    private struct Entry {
        var generation: Int
        var version: Int64
        var slotCount: Int
        var missing: Int
        var bitmap: Bitmap
        var builtAt: Date
    }

    static let missingRecheck: TimeInterval = 5

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// Entries kept at most; beyond it the cache starts over (each entry is up to slotCount/8 bytes).
    static let maximumEntries = 256

    /// The cached bitmap of (`key`, `version`) if it is still good for an index of this shape.
    func bitmap(_ key: String, version: Int64, generation: Int, slotCount: Int) -> Bitmap? {
        lock.lock()
        defer { lock.unlock() }
        guard let e = entries[key], e.generation == generation, e.version == version,
              e.missing == 0 || e.slotCount == slotCount || Date().timeIntervalSince(e.builtAt) < Self.missingRecheck
        else { return nil }
        return e.bitmap
    }

    /// Builds the bitmap of stored `ids` in `state`'s index and keeps it.
    func build(_ key: String, version: Int64, ids: [String], in state: IndexState) -> Bitmap {
        let slots = ids.compactMap { state.index.slot(of: $0) }
        let entry = Entry(generation: state.generation, version: version, slotCount: state.index.slotCount,
                          missing: ids.count - slots.count, bitmap: Bitmap(slots: slots), builtAt: Date())
        lock.lock()
        if entries.count >= Self.maximumEntries { entries.removeAll() }
        entries[key] = entry
        lock.unlock()
        return entry.bitmap
    }
}
