import Foundation
import HTTP
import Postgres

/// Runs named periodic ticks (every 60 s, every night…) once per tick across all replicas of a service.
///
/// How it works:
/// - Each schedule is a row `(name, interval_seconds, next_run_at)` in the service's `schedules` table.
///   A replica whose clock says a tick is due claims it with
///   `UPDATE … SET next_run_at = <next grid point after now()> … WHERE name = $1 AND next_run_at <= now()`
///   (the row taken `FOR UPDATE SKIP LOCKED`), so exactly one replica gets each tick; the others see
///   the row locked or no longer due.
/// - The handler runs inside the claiming transaction, on its connection: its database effects commit
///   together with the advanced `next_run_at`. A replica killed mid-tick rolls both back and another
///   replica runs the tick. Work that takes long belongs in jobs the tick enqueues, since the
///   transaction (and its row lock) stays open while the handler runs.
/// - Missed ticks (every replica down for a while) are not replayed one by one: the next claim runs
///   once (`ScheduledTick.missedTicks` says how many were folded in) and moves `next_run_at` to the
///   first grid point after now. Times come from the database clock, never the replicas'.
/// - A handler that throws is retried after `failureBackoff` (at most its own interval later).
///
/// Metrics (when a registry is given): `scheduler_ticks_total`, `scheduler_tick_failures_total`,
/// `scheduler_tick_seconds` (label `schedule`).
///
/// Thread-safety: `lock` (the lifecycle's) guards `entries`, the lifecycle state and `registered`; ticks
/// run on the scheduler's one thread (or the caller's, for `runDueTicks`).
public final class Scheduler: @unchecked Sendable {
    /// Does one tick's work on `connection`, inside the transaction that claimed the tick.
    public typealias Handler = @Sendable (ScheduledTick, PostgresConnection) throws -> Void

    public let configuration: SchedulerConfiguration
    private let pool: PostgresPool
    private let logger: Logger
    private let tables: DataPlaneTables
    private let metrics: SchedulerMetrics
    private let lifecycle = WorkerLifecycle()
    private var wake: WakeSignal { lifecycle.wake }
    private var lock: NSLock { lifecycle.lock }
    private var entries: [String: Entry] = [:]
    private var registered = false

    struct Entry: Sendable {
        let name: String
        let interval: TimeInterval
        let handler: Handler
    }

    public init(configuration: SchedulerConfiguration, pool: PostgresPool, logger: Logger,
                metrics: MetricsRegistry? = nil) throws(SchedulerError) {
        self.configuration = try configuration.validated()
        tables = try DataPlaneTables.make(schema: configuration.schema, invalidConfiguration: SchedulerError.invalidConfiguration)
        self.pool = pool
        self.logger = logger.with(["component": "scheduler", "instance": .string(configuration.instanceId)])
        self.metrics = try SchedulerMetrics(registry: metrics)
    }

    /// Adds a schedule; only before `start`. The first tick of a new schedule is due at once; an
    /// existing row keeps its `next_run_at` (so a restart does not run the tick again early), except
    /// that a shortened interval brings it forward to at most one new interval away.
    public func schedule(_ name: String, every interval: TimeInterval, handler: @escaping Handler) throws(SchedulerError) {
        guard DataPlaneText.isName(name) else {
            throw .invalidConfiguration("schedule name must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        guard interval.isFinite, interval >= 0.05, interval <= 366 * 86_400 else {
            throw .invalidConfiguration("interval of \(name) must be 50 ms…366 days")
        }
        lock.lock()
        defer { lock.unlock() }
        guard lifecycle.state == .idle else { throw .invalidState("schedules are added before start()") }
        guard entries[name] == nil else { throw .invalidConfiguration("schedule \(name) is defined twice") }
        entries[name] = Entry(name: name, interval: interval, handler: handler)
        registered = false
    }

    /// Starts the scheduler thread; rows are registered in the background (retried while the database
    /// is unreachable).
    public func start() throws(SchedulerError) {
        let stopped = SchedulerError.invalidState("the scheduler was stopped and cannot be started again")
        try lifecycle.start(stoppedError: stopped) { () throws(SchedulerError) in
            guard !entries.isEmpty else { throw .invalidState("no schedule is defined") }
            lifecycle.threads.spawn(name: "scheduler") { [self] in loop() }
            logger.info("scheduler started", ["schedules": .string(entries.keys.sorted().joined(separator: ","))])
        }
    }

    /// Stops looking for ticks and waits up to `timeout` for a running tick to finish.
    @discardableResult
    public func stop(timeout: TimeInterval = 30) -> Bool {
        let (wasRunning, finished) = lifecycle.stop(timeout: timeout)
        if wasRunning { logger.info("scheduler stopped", ["clean": .bool(finished)]) }
        return finished
    }

    /// Runs, on the calling thread, every tick due now that this instance can claim; returns the names
    /// it ran (successfully or not). For tools and tests.
    @discardableResult
    public func runDueTicks() throws(SchedulerError) -> [String] {
        try registerIfNeeded()
        var ran: [String] = []
        for (entry, wait) in try dueTimes() where wait <= 0 {
            if runTick(entry) { ran.append(entry.name) }
        }
        return ran
    }

    // MARK: Loop

    private var snapshot: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return entries.values.sorted { $0.name < $1.name }
    }

    private func loop() {
        var consecutiveFailures = 0
        while !wake.isStopped {
            var sleep = configuration.pollInterval
            do {
                try registerIfNeeded()
                for (entry, wait) in try dueTimes() {
                    if wake.isStopped { break }
                    if wait <= 0 {
                        // Ran it: look again soon, the next tick may be due before a whole poll
                        // interval. Not claimed (another replica runs it): the poll interval applies.
                        if runTick(entry) { sleep = min(sleep, 0.01) }
                    } else {
                        sleep = min(sleep, wait)
                    }
                }
                consecutiveFailures = 0
            } catch {
                consecutiveFailures += 1
                if consecutiveFailures == 1 || consecutiveFailures % 30 == 0 {
                    logger.warning("scheduler cannot read its schedules; retrying", ["error": .error(error)])
                }
            }
            wake.sleepUnlessStopped(max(0.005, sleep))
        }
    }

    private func registerIfNeeded() throws(SchedulerError) {
        lock.lock()
        let needed = !registered
        let entries = self.entries.values.sorted { $0.name < $1.name }
        lock.unlock()
        guard needed, !entries.isEmpty else { return }
        try withConnection { connection in
            try connection.execute("""
                INSERT INTO \(tables.schedules) AS s (name, interval_seconds, next_run_at)
                SELECT n, i, now() FROM unnest($1::text[], $2::float8[]) AS e(n, i)
                ON CONFLICT (name) DO UPDATE
                SET interval_seconds = EXCLUDED.interval_seconds,
                    next_run_at = least(s.next_run_at, now() + make_interval(secs => EXCLUDED.interval_seconds))
                WHERE s.interval_seconds <> EXCLUDED.interval_seconds
                """, entries.map(\.name), entries.map(\.interval))
        }
        lock.lock()
        registered = true
        lock.unlock()
    }

    /// Seconds until each schedule is due (≤ 0: due now), by the database clock.
    private func dueTimes() throws(SchedulerError) -> [(Entry, TimeInterval)] {
        let entries = snapshot
        let rows = try withConnection { connection in
            try connection.query("""
                SELECT name, extract(epoch FROM next_run_at - now())::float8 AS wait
                FROM \(tables.schedules) WHERE name = ANY($1::text[])
                """, entries.map(\.name))
        }
        var waits: [String: TimeInterval] = [:]
        do {
            for row in rows { waits[try row.decode("name", as: String.self)] = try row.decode("wait", as: Double.self) }
        } catch {
            throw .database(error)
        }
        if waits.count < entries.count {
            // A row was deleted (by an operator, say): put it back on the next pass.
            lock.lock()
            registered = false
            lock.unlock()
        }
        return entries.compactMap { entry in waits[entry.name].map { (entry, $0) } }
    }

    /// Claims and runs one tick; false when another replica had it or it was not due.
    @discardableResult
    private func runTick(_ entry: Entry) -> Bool {
        let started = MonotonicClock.nanoseconds()
        var claimed = false
        do {
            // The pool directly, not `withConnection`: the handler's own error must reach the log as is.
            try pool.withConnection { connection in
                try connection.transaction { connection in
                    let rows = try connection.query("""
                        WITH due AS (
                            SELECT name, next_run_at FROM \(tables.schedules)
                            WHERE name = $1 AND next_run_at <= now()
                            FOR UPDATE SKIP LOCKED)
                        UPDATE \(tables.schedules) AS s
                        SET next_run_at = due.next_run_at + make_interval(secs => s.interval_seconds
                                * (floor(extract(epoch FROM now() - due.next_run_at)::float8 / s.interval_seconds) + 1)),
                            runs = s.runs + 1, last_run_at = now(), last_run_by = $2,
                            last_error = NULL, consecutive_failures = 0
                        FROM due
                        WHERE s.name = due.name
                        RETURNING due.next_run_at AS scheduled_at,
                                  floor(extract(epoch FROM now() - due.next_run_at)::float8 / s.interval_seconds)::int8 AS missed
                        """, entry.name, configuration.instanceId)
                    guard let row = rows.first else { return }
                    claimed = true
                    let tick = ScheduledTick(name: entry.name, scheduledAt: try row.decode("scheduled_at"),
                                             missedTicks: try row.decode("missed"))
                    if tick.missedTicks > 0 {
                        logger.warning("scheduled tick was late; missed ticks are folded into this run",
                                       ["schedule": .string(entry.name), "missed": .int(tick.missedTicks)])
                    }
                    try entry.handler(tick, connection)
                }
            }
        } catch {
            guard claimed else {
                logger.warning("scheduler could not claim a tick", ["schedule": .string(entry.name), "error": .error(error)])
                return false
            }
            recordFailure(entry, error: error)
            try? metrics.failures?.labels(entry.name).increment()
            return true
        }
        if claimed {
            try? metrics.ticks?.labels(entry.name).increment()
            try? metrics.duration?.labels(entry.name).observe(Double(MonotonicClock.nanoseconds() &- started) / 1e9)
        }
        return claimed
    }

    /// The tick's transaction rolled back; record the error and make it due again after a backoff.
    private func recordFailure(_ entry: Entry, error: any Error) {
        let text = DataPlaneText.errorText(error)
        logger.error("scheduled tick failed; it will be retried", ["schedule": .string(entry.name), "error": .string(text)])
        let backoff = configuration.failureBackoff
        do {
            try withConnection { connection in
                try connection.execute("""
                    UPDATE \(tables.schedules)
                    SET next_run_at = now() + make_interval(secs => least(interval_seconds, $3::float8,
                                                                           $2::float8 * power(2, least(consecutive_failures, 30)))),
                        last_error = $4, consecutive_failures = consecutive_failures + 1, last_run_by = $5
                    WHERE name = $1 AND next_run_at <= now()
                    """, entry.name, backoff.ceiling(afterAttempt: 1), backoff.ceiling(afterAttempt: 1_000), text,
                    configuration.instanceId)
            }
        } catch {
            logger.warning("scheduler could not record a failed tick", ["schedule": .string(entry.name), "error": .error(error)])
        }
    }

    @discardableResult
    private func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws(SchedulerError) -> T {
        do {
            return try pool.withConnection { connection in try body(connection) }
        } catch let error as SchedulerError {
            throw error
        } catch let error as PostgresError {
            throw .database(error)
        } catch {
            throw .database(.invalidState("\(error)"))
        }
    }
}

/// The scheduler's metrics; every member nil when no registry was given.
struct SchedulerMetrics: Sendable {
    let ticks: CounterFamily?
    let failures: CounterFamily?
    let duration: HistogramFamily?

    init(registry: MetricsRegistry?) throws(SchedulerError) {
        guard let registry else {
            (ticks, failures, duration) = (nil, nil, nil)
            return
        }
        do {
            ticks = try registry.counter("scheduler_ticks_total", help: "Scheduled ticks this instance ran.", labelNames: ["schedule"])
            failures = try registry.counter("scheduler_tick_failures_total", help: "Scheduled ticks that failed.",
                                            labelNames: ["schedule"])
            duration = try registry.histogram("scheduler_tick_seconds", help: "Time a scheduled tick ran.", labelNames: ["schedule"])
        } catch {
            throw .invalidConfiguration("metrics: \(error)")
        }
    }
}
