import Glibc

/// A replica's one customer index, shared by its writer (the change-feed follower) and any number of
/// readers (estimates, members, portraits).
///
/// Not a value copy per published version: a reader's copy would make the writer's next change copy
/// every column it touches — all of a column's array, gigabytes a second at 10M customers and a page
/// of changes every few hundred milliseconds. Readers borrow the one index under a read lock instead
/// (a query takes milliseconds) and the writer applies a page of changes under the write lock (a
/// page of 1,000 documents takes a few milliseconds). The lock prefers the writer, so a stream of
/// queries cannot hold the feed back.
///
/// Thread-safety: `index` is only touched inside `read` (shared) and `write`/`replace` (exclusive).
/// A body must not keep the index beyond its return (a kept copy turns the next write into a copy).
public final class SharedCustomerIndex: @unchecked Sendable {
    /// Which index a reader saw: `generation` counts `replace`s (slots of one generation mean nothing
    /// in another), `version` the writes within it. Caches key on it.
    public struct Stamp: Sendable, Equatable {
        public var generation = 0
        public var version = 0
    }

    private var index: CustomerIndex
    private var stamp = Stamp()
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    public init(_ index: CustomerIndex) {
        self.index = index
        lock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Runs `body` with the index, alongside other readers.
    public func read<R>(_ body: (CustomerIndex) throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(index)
    }

    /// Runs `body` with the index and its stamp, alongside other readers.
    public func readStamped<R>(_ body: (CustomerIndex, Stamp) throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(index, stamp)
    }

    /// The current stamp.
    public var currentStamp: Stamp { readStamped { _, stamp in stamp } }

    /// Runs `body` with the index to change, alone; a new version.
    public func write<R>(_ body: (inout CustomerIndex) throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        stamp.version += 1
        return try body(&index)
    }

    /// Puts a whole new index in place (a fresh snapshot, built without the lock); the old one is
    /// freed once the last reader is done with it.
    public func replace(with fresh: CustomerIndex) {
        var old = fresh
        pthread_rwlock_wrlock(lock)
        swap(&old, &index)
        stamp = Stamp(generation: stamp.generation + 1, version: 0)
        pthread_rwlock_unlock(lock)
        _ = old   // released here, outside the lock
    }
}
