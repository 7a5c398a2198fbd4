import Contracts
import Foundation
import HTTP
import ServiceKit

/// Keeps `LiveIndex` current from the profile's change feed: a snapshot at start, then pages of changes.
///
/// One thread of its own is the index's only writer: it applies each page under the index's write lock
/// (milliseconds; readers wait that long at most), and builds a new snapshot's index beside the current
/// one, which readers go on using until it is swapped in. The cursor lives in memory: each replica
/// keeps its own index, and a restarted one begins with a new snapshot. A failed read is retried with backoff;
/// a cursor the profile no longer accepts (400) starts over with a new snapshot.
///
/// Thread-safety: `loop` is thread-safe; the rest is immutable or touched by the loop's thread only.
public final class FeedFollower: BackgroundTask, @unchecked Sendable {
    public let taskName = "segment-feed"
    let live: LiveIndex
    let feed: ProfileFeedClient
    let timeZone: TimeZone
    let pollInterval: TimeInterval
    let pageSize: Int
    let logger: Logger

    private let loop: BackgroundLoop

    init(live: LiveIndex, feed: ProfileFeedClient, timeZone: TimeZone, pollInterval: TimeInterval, pageSize: Int,
         logger: Logger) {
        self.live = live
        self.feed = feed
        self.timeZone = timeZone
        self.pollInterval = pollInterval
        self.pageSize = pageSize
        self.logger = logger
        loop = BackgroundLoop(name: "segment-feed")
    }

    // MARK: BackgroundTask

    public func start() throws {
        try loop.start { [self] in run() }
    }

    @discardableResult
    public func stop(timeout: TimeInterval) -> Bool {
        loop.stop(timeout: timeout)
    }

    private var isStopping: Bool { loop.isStopping }

    /// Sleeps up to `seconds`, returning early when stopping.
    private func pause(_ seconds: TimeInterval) { loop.pause(seconds) }

    // MARK: Following

    private func run() {
        var cursor: String?
        var backoff = 0.2
        while !isStopping {
            do {
                if cursor == nil { cursor = try loadSnapshot() }
                guard let after = cursor else { continue }
                let caughtUp = try followOnePage(after: after, cursor: &cursor)
                backoff = 0.2
                if caughtUp { pause(pollInterval) }
            } catch {
                // The profile refuses a cursor it did not issue (its feed was rebuilt, say): start over.
                if case .badStatus(400, _, _)? = error as? HTTPClientError { cursor = nil }
                let message = String(describing: error)
                live.record { $0.lastError = String(message.prefix(500)) }
                logger.warning("change feed read failed; retrying", ["error": .string(String(message.prefix(500))),
                                                                     "retryInSeconds": .double(backoff)])
                pause(backoff)
                backoff = min(backoff * 2, 10)
            }
        }
    }

    /// Reads the whole snapshot into a fresh index (readers go on with the current one meanwhile) and
    /// puts it in place; the cursor the changes follow from.
    private func loadSnapshot() throws -> String {
        let started = Date()
        var fresh = CustomerIndex(timeZone: timeZone)
        var applied = 0
        let cursor = try feed.snapshot { document in
            fresh.apply(document)
            applied += 1
        }
        let customers = fresh.count, bytes = fresh.bytes
        live.install(fresh) { status in
            status.ready = true
            status.cursor = cursor
            status.appliedDocuments += applied
            status.caughtUpAt = started
            status.lastError = nil
        }
        logger.info("customer index loaded from the snapshot", [
            "customers": .int(customers), "bytes": .int(bytes),
            "seconds": .double((Date().timeIntervalSince(started) * 1000).rounded() / 1000),
        ])
        return cursor
    }

    /// Applies one page of changes under the index's write lock; true when the feed was read to its end.
    private func followOnePage(after: String, cursor: inout String?) throws -> Bool {
        let asked = Date()
        let page = try feed.changes(after: after, limit: pageSize)
        cursor = page.nextCursor
        let update: (inout FeedStatus) -> Void = { status in
            status.cursor = page.nextCursor
            status.appliedDocuments += page.items.count
            if page.caughtUp { status.caughtUpAt = asked }
            status.lastError = nil
        }
        if page.items.isEmpty { live.record(update) } else { live.apply(page.items, update: update) }
        return page.caughtUp
    }
}
