import Contracts
import Foundation

/// The customer index as one read sees it, with the stamp of that version. Valid only inside the
/// `LiveIndex.read` body that received it: kept beyond, it would make the writer copy the columns.
public struct IndexState {
    public let index: CustomerIndex
    /// Counts fresh snapshots: slots of one generation mean nothing in another (caches key on it).
    public let generation: Int
    /// Counts applied pages of changes within a generation.
    public let version: Int
}

/// Which index is current, without the index: for caches and the watcher.
struct IndexShape: Sendable, Equatable {
    var generation: Int
    var version: Int
    var slotCount: Int
}

/// How far the index follows the profile's change feed, for `/healthz`, `/metrics` and tests.
public struct FeedStatus: Sendable, Encodable, Equatable {
    /// True once the first snapshot is loaded: before that, answers would be wrong, so `/readyz` fails.
    public var ready = false
    /// Where the next feed read starts.
    public var cursor: String?
    /// Customers in the index, slots handed out, and the index's memory (measured every few seconds).
    public var customers = 0
    public var slots = 0
    public var bytes = 0
    /// Documents applied since start (snapshot and changes).
    public var appliedDocuments = 0
    /// When the follower last read the feed to its end; the index holds every change committed before.
    public var caughtUpAt: Date?
    /// Seconds since `caughtUpAt` (how stale the index may be), at the time of reading.
    public var lagSeconds: Double?
    /// The last failure to read the feed, cleared by the next success.
    public var lastError: String?
}

/// The replica's one index (`SharedCustomerIndex`: readers share it under a read lock, the feed
/// follower, its only writer, applies pages of changes under the write lock) and how far it follows.
///
/// Thread-safety: the index is guarded by its own lock; `status` and the measurement fields by `lock`.
public final class LiveIndex: @unchecked Sendable {
    private let shared: SharedCustomerIndex
    private let lock = NSLock()
    private var status = FeedStatus()
    /// `CustomerIndex.bytes` sums every column: measured at most this often.
    private var bytesMeasuredAt = Date.distantPast
    private var customersMeasured = 0
    static let bytesInterval: TimeInterval = 10

    public init(timeZone: TimeZone) { shared = SharedCustomerIndex(CustomerIndex(timeZone: timeZone)) }

    /// Runs `body` with the current index, or answers 503 while the first snapshot is still loading.
    ///
    /// Every request reads the index through here, in a short body that does no I/O (PostgreSQL and
    /// the profile are asked before: `Audiences.plan`): the body holds the read lock, which the feed's
    /// writer waits for.
    public func read<R>(_ body: (IndexState) throws -> R) throws -> R {
        guard isReady else {
            throw APIError.unavailable("the customer index is still loading from the profile service", code: "index_loading",
                                       retryAfter: 2)
        }
        return try shared.readStamped { index, stamp in
            try body(IndexState(index: index, generation: stamp.generation, version: stamp.version))
        }
    }

    /// Slots turned into customer ids per read.
    static let idChunk = 65_536

    /// Calls `body` with the customer ids of `members`' slots in ascending slot order, a chunk of at
    /// most `idChunk` per read of the index, so that millions of members never hold the feed's writer
    /// back for long. A slot keeps its customer for the life of an index; if a new snapshot replaced
    /// the index of `generation` meanwhile, the call fails (503, retry).
    func forEachIdChunk(of members: Bitmap, generation: Int, _ body: ([String]) throws -> Void) throws {
        let wordsPerChunk = Self.idChunk / 64
        var word = 0
        while word < members.wordCount {
            let range = word..<min(word + wordsPerChunk, members.wordCount)
            let ids = try read { state -> [String] in
                guard state.generation == generation else {
                    throw APIError.unavailable("the customer index was just reloaded; retry", code: "index_reloaded", retryAfter: 1)
                }
                return members.slots(inWords: range).map { state.index.customerId(at: $0) }
            }
            try body(ids)
            word = range.upperBound
        }
    }

    /// The generation, version and slot count of the current index, without reading it further.
    var shape: IndexShape {
        shared.readStamped { index, stamp in IndexShape(generation: stamp.generation, version: stamp.version, slotCount: index.slotCount) }
    }

    /// Whether the first snapshot is in.
    var isReady: Bool {
        lock.lock()
        defer { lock.unlock() }
        return status.ready
    }

    /// The feed's progress, with the lag as of now.
    public var feedStatus: FeedStatus {
        lock.lock()
        var s = status
        lock.unlock()
        s.lagSeconds = s.caughtUpAt.map { max(0, Date().timeIntervalSince($0)) }
        return s
    }

    /// Puts a freshly loaded index in place of the current one (a new generation). The caller must not
    /// keep `fresh`: the index's columns would then be shared, and the next change would copy them.
    func install(_ fresh: CustomerIndex, update: (inout FeedStatus) -> Void) {
        shared.replace(with: fresh)
        measure(update, force: true)
    }

    /// Applies changed customers' facts, all under one write lock (a page of changes at a time).
    func apply(_ documents: [CustomerFactsDocument], update: (inout FeedStatus) -> Void) {
        shared.write { index in
            for document in documents { index.apply(document) }
        }
        measure(update, force: false)
    }

    /// Records progress that changed no customer (a caught-up poll, a failure).
    func record(_ update: (inout FeedStatus) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        update(&status)
    }

    private func measure(_ update: (inout FeedStatus) -> Void, force: Bool) {
        let (customers, slots) = shared.read { ($0.count, $0.slotCount) }
        lock.lock()
        defer { lock.unlock() }
        update(&status)
        status.customers = customers
        status.slots = slots
        // Measured again after `bytesInterval`, or sooner when the index grew or shrank by a tenth.
        let grown = abs(customers - customersMeasured) * 10 > customersMeasured
        if force || grown || Date().timeIntervalSince(bytesMeasuredAt) >= Self.bytesInterval {
            status.bytes = shared.read { $0.bytes }
            bytesMeasuredAt = Date()
            customersMeasured = customers
        }
    }
}
