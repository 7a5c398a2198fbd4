import Contracts
import Foundation
import Postgres
import ServiceKit

/// Keeps rule tags and the lifecycle stage current (issue 4 items 4 and 5): a background task on a
/// thread of its own that
///
/// 1. follows `customer_changes` from its own cursor (`rule_tag_cursors`), with the feed's order and
///    visibility rule (`ChangeFeed.changedCustomers`: (tx, seq) below `pg_snapshot_xmin`, so no change
///    is skipped), and re-evaluates every rule tag for the customers of each page (`step`);
/// 2. every `sweepInterval` re-evaluates, for all customers, the rule tags with time windows (`sweep`).
///
/// Replicas do not conflict: a page is evaluated while holding the cursor's advisory lock (taken without
/// waiting — another replica skips the step), and the sweep likewise. Reading the page inside
/// the transaction that locks the cursor means changes of transactions that got their id after ours are
/// read on the next step (one step of lag, never a loss). The worker's own tag writes enter the feed and
/// are evaluated once more, which writes nothing, ending the loop.
///
/// Thread-safety: `loop` is thread-safe; everything else is immutable.
public final class RuleTagWorker: BackgroundTask, @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Feed rows read per step.
        public var batchSize = 500
        /// Customers per sweep batch.
        public var sweepBatchSize = 1_000
        /// How often time-window tags are re-evaluated for everyone (default hourly).
        public var sweepInterval: TimeInterval = 3_600
        /// Sleep between polls when caught up.
        public var pollInterval: TimeInterval = 1
        /// Sleep after a failed step (database down), growing to `maximumBackoff`.
        public var initialBackoff: TimeInterval = 0.5
        public var maximumBackoff: TimeInterval = 30

        public init() {}
    }

    /// What one step did.
    public struct StepResult: Sendable, Equatable {
        /// False when another replica held the cursor.
        public var claimed: Bool
        /// Feed rows read.
        public var rows: Int
        public var customers: Int
        public var assigned: Int
        public var removed: Int
        public var lifecycleChanges: Int
        /// True when the page was not full: the feed is read to its (current) end.
        public var caughtUp: Bool
    }

    public var taskName: String { "rule-tag-worker" }

    let database: PostgresPool
    let engine: RuleTagEngine
    let partitions: EventPartitions
    let configuration: Configuration
    let logger: Logger
    static let cursorName = "customer_changes"

    private let loop = BackgroundLoop(name: "rule-tag-worker")

    init(database: PostgresPool, engine: RuleTagEngine, logger: Logger, configuration: Configuration = Configuration()) {
        self.database = database
        self.engine = engine
        self.partitions = EventPartitions(database: database)
        self.logger = logger
        self.configuration = configuration
    }

    /// Reads one page of the feed after the worker's cursor, evaluates the page's customers at `now`,
    /// writes what changed and moves the cursor, all in one transaction.
    @discardableResult
    public func step(now: Date = Date()) throws -> StepResult {
        // Lifecycle changes are stored as events: their month's partition must exist before the transaction.
        try partitions.ensure(covering: [now])
        return try database.transaction { conn in
            // Turns are taken with an advisory lock, not FOR UPDATE on the cursor row: a row lock would give
            // this transaction an id at once, and every reader of the change feed (the segment service)
            // would wait for it while the page is evaluated. The id now comes with the writes at the end.
            let locked = try conn.tryAdvisoryTransactionLock("rule_tag_cursor:" + Self.cursorName)
            guard locked, let row = try conn.query("SELECT tx::text AS tx, seq FROM rule_tag_cursors WHERE name = $1", Self.cursorName).first else {
                return StepResult(claimed: false, rows: 0, customers: 0, assigned: 0, removed: 0, lifecycleChanges: 0, caughtUp: true)
            }
            let cursor = ChangeFeed.Cursor(tx: UInt64(try row.decode("tx", as: String.self)) ?? 0, seq: try row.decode("seq"))
            let page = try ChangeFeed.changedCustomers(after: cursor, limit: configuration.batchSize, on: conn)
            var outcome = RuleTagEngine.Outcome()
            if !page.customerIds.isEmpty {
                let (tags, stages) = try engine.compile(on: conn)
                outcome = try engine.evaluate(page.customerIds, tags: tags, stages: stages, now: now, on: conn)
            }
            if page.next != cursor {
                try conn.execute("UPDATE rule_tag_cursors SET tx = $2::text::xid8, seq = $3, updated_at = now() WHERE name = $1",
                                 Self.cursorName, String(page.next.tx), page.next.seq)
            }
            return StepResult(claimed: true, rows: page.rows, customers: outcome.evaluated, assigned: outcome.assigned,
                              removed: outcome.removed, lifecycleChanges: outcome.lifecycleChanges.count,
                              caughtUp: page.rows < configuration.batchSize)
        }
    }

    /// Runs steps until the feed is read to its current end (at most `maximumSteps`); for tests and the loop.
    @discardableResult
    public func drain(now: Date = Date(), maximumSteps: Int = 1_000) throws -> Int {
        var steps = 0
        while steps < maximumSteps {
            steps += 1
            let result = try step(now: now)
            if !result.claimed || result.caughtUp { break }
        }
        return steps
    }

    /// Runs a whole sweep at `now` when one is due (or `force`): rule tags with time windows (all rule
    /// tags when a full sweep was requested) for every customer. Returns the customers evaluated, or
    /// nil when another replica holds the sweep or none is due.
    @discardableResult
    public func sweep(now: Date = Date(), force: Bool = false) throws -> Int? {
        try partitions.ensure(covering: [now])
        var total = 0
        var started = false
        while true {
            let step = try database.withConnection { conn in
                try RuleTagSweep.step(engine: engine, now: now, interval: configuration.sweepInterval,
                                      batchSize: configuration.sweepBatchSize, force: force && !started, on: conn)
            }
            switch step {
            case .idle: return started ? total : nil
            case .progressed(let n): total += n; started = true
            case .finished(let n): return total + n
            }
            if isStopping { return total }
        }
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

    private func run() {
        var backoff = configuration.initialBackoff
        while !isStopping {
            do {
                let result = try step()
                if result.assigned + result.removed > 0 {
                    logger.debug("rule tags updated", ["assigned": .int(result.assigned), "removed": .int(result.removed),
                                                       "lifecycleChanges": .int(result.lifecycleChanges)])
                }
                if result.claimed && !result.caughtUp { backoff = configuration.initialBackoff; continue }
                _ = try sweep()
                backoff = configuration.initialBackoff
                pause(configuration.pollInterval)
            } catch {
                logger.warning("rule-tag worker step failed", ["error": .string(String(describing: error))])
                pause(backoff)
                backoff = min(configuration.maximumBackoff, backoff * 2)
            }
        }
    }
}
