import Foundation
import HTTP
import Postgres

/// Runs the jobs of the queues it has handlers for, on threads of its own, with any number of workers
/// (threads and replicas) sharing one table and never running the same job at the same time.
///
/// How it works:
/// - Each thread claims up to `batchSize` due jobs of its queues in one autocommit statement
///   (`FOR UPDATE SKIP LOCKED`), setting `status = 'running'`, `attempts + 1`, a lease
///   (`locked_until = now() + lease`, `locked_by`, a fresh `lease_token`), then runs the handlers one
///   after the other and writes the outcomes in batches (`done`; `pending` again after a backoff; or
///   `dead` after the last attempt or a `JobFailure.permanent`).
/// - A maintenance thread renews the leases of the batches in progress every `lease / 3`, and every
///   `reapInterval` returns jobs whose lease expired (a killed worker's) to `pending` — or to `dead`
///   when that was their last attempt, so a job that kills its worker cannot loop forever.
/// - Execution is at least once: a job whose worker dies after its effects but before the completion
///   is written runs again. A handler that needs exactly-once effects in the database calls
///   `job.complete(on:)` inside its own transaction.
/// - `stop` lets running handlers finish, writes their outcomes and gives claimed jobs that have not
///   started back to `pending` without counting the attempt.
///
/// Metrics (when a registry is given): `jobs_completed_total`, `jobs_retried_total`, `jobs_dead_total`
/// and `job_duration_seconds` (label `queue`), `jobs_leases_expired_total`.
///
/// Thread-safety: `lock` (the lifecycle's) guards `handlers`, the lifecycle state and `activeLeases`;
/// handlers run on the worker's threads, several at once, so they must be thread-safe themselves.
public final class JobWorker: @unchecked Sendable {
    /// Runs one job. Throw `JobFailure` to steer the retry; any other error retries with the backoff.
    public typealias Handler = @Sendable (Job) throws -> Void
    /// Runs all the claimed jobs of one queue at once (one query for many rows, calls in parallel):
    /// returns the failures by job id; every job not in the answer is done. Throwing retries them all
    /// with the backoff. Jobs it completed itself (`Job.complete(_:on:)`) stay done either way.
    public typealias BatchHandler = @Sendable ([Job]) throws -> [Int64: JobFailure]

    private enum QueueHandler {
        case single(Handler)
        case batch(BatchHandler)
    }

    public let configuration: JobWorkerConfiguration
    private let pool: PostgresPool
    private let logger: Logger
    private let tables: DataPlaneTables
    /// Purges done jobs older than `finishedRetention`.
    private let finished: JobQueue
    private let metrics: JobWorkerMetrics
    private let lifecycle = WorkerLifecycle()
    private var wake: WakeSignal { lifecycle.wake }
    private var lock: NSLock { lifecycle.lock }
    private var handlers: [String: QueueHandler] = [:]
    private var activeLeases: Set<UUID> = []

    public init(configuration: JobWorkerConfiguration, pool: PostgresPool, logger: Logger,
                metrics: MetricsRegistry? = nil) throws(JobQueueError) {
        self.configuration = try configuration.validated()
        tables = try DataPlaneTables.make(schema: configuration.schema, invalidConfiguration: JobQueueError.invalidConfiguration)
        self.pool = pool
        self.logger = logger.with(["component": "job-worker", "worker": .string(configuration.workerId)])
        self.metrics = try JobWorkerMetrics(registry: metrics)
        finished = try JobQueue(schema: configuration.schema)
    }

    /// Registers the handler of `queue`; only before `start`. One handler per queue.
    public func register(queue: String, handler: @escaping Handler) throws(JobQueueError) {
        try register(queue, .single(handler))
    }

    /// Registers the batch handler of `queue`; only before `start`. One handler per queue. The worker's
    /// `batchSize` bounds how many jobs one call gets.
    public func register(batchQueue queue: String, handler: @escaping BatchHandler) throws(JobQueueError) {
        try register(queue, .batch(handler))
    }

    private func register(_ queue: String, _ handler: QueueHandler) throws(JobQueueError) {
        guard DataPlaneText.isName(queue) else {
            throw .invalidConfiguration("queue must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        lock.lock()
        defer { lock.unlock() }
        guard lifecycle.state == .idle else { throw .invalidState("handlers are registered before start()") }
        guard handlers[queue] == nil else { throw .invalidConfiguration("queue \(queue) already has a handler") }
        handlers[queue] = handler
    }

    /// Starts the worker and maintenance threads. Needs at least one handler.
    public func start() throws(JobQueueError) {
        let stopped = JobQueueError.invalidState("the worker was stopped and cannot be started again")
        try lifecycle.start(stoppedError: stopped) { () throws(JobQueueError) in
            guard !handlers.isEmpty else { throw .invalidState("no queue handler is registered") }
            for index in 0..<configuration.threads {
                lifecycle.threads.spawn(name: "job-worker-\(index)") { [self] in workLoop() }
            }
            lifecycle.threads.spawn(name: "job-worker-leases") { [self] in maintenanceLoop() }
            logger.info("job worker started", ["threads": .int(configuration.threads),
                                                "queues": .string(handlers.keys.sorted().joined(separator: ","))])
        }
    }

    /// Graceful stop: no new claims; running handlers finish and their outcomes are written; claimed
    /// jobs not yet started go back to `pending`. Returns false if a handler was still running after
    /// `timeout` (its job returns when its lease expires).
    @discardableResult
    public func stop(timeout: TimeInterval = 30) -> Bool {
        let (wasRunning, finished) = lifecycle.stop(timeout: timeout)
        if wasRunning { logger.info("job worker stopped", ["clean": .bool(finished)]) }
        return finished
    }

    /// Makes idle threads look for jobs now (after an in-process enqueue, say).
    public func wakeUp() {
        wake.signal()
    }

    /// Claims one batch and runs it on the calling thread, whether or not the worker is started;
    /// returns how many jobs it claimed. For tools and tests that want a deterministic step.
    @discardableResult
    public func runDueJobs() throws(JobQueueError) -> Int {
        let batch = try claim()
        run(batch)
        return batch.jobs.count
    }

    /// Deletes done jobs older than `finishedRetention`, 10,000 a statement until fewer are left (at
    /// most 100 statements a call); returns how many. The maintenance thread does this every minute (or
    /// every `reapInterval` when that is longer), so a busy queue's table stays the size of its retention.
    @discardableResult
    public func purgeFinishedJobs() throws(JobQueueError) -> Int {
        var purged = 0
        for _ in 0..<100 {
            let n = try pool.withJobConnection { connection in
                try finished.purgeFinished(on: connection, olderThan: configuration.finishedRetention, limit: 10_000)
            }
            purged += n
            if n < 10_000 { break }
        }
        return purged
    }

    /// Returns jobs whose lease expired to `pending` (or `dead` after their last attempt) now; returns
    /// how many. The maintenance thread does this every `reapInterval`.
    @discardableResult
    public func reapExpiredLeases() throws(JobQueueError) -> Int {
        let rows = try pool.withJobConnection { connection in
            try connection.query("""
                WITH expired AS (
                    SELECT id FROM \(tables.jobs)
                    WHERE status = 'running' AND locked_until < now()
                    ORDER BY locked_until
                    LIMIT 1000
                    FOR UPDATE SKIP LOCKED)
                UPDATE \(tables.jobs) AS j
                SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                    finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
                    run_at = now(),
                    last_error = 'lease expired: worker ' || coalesce(j.locked_by, '?') || ' did not finish the job',
                    locked_by = NULL, locked_until = NULL, lease_token = NULL
                FROM expired
                WHERE j.id = expired.id
                RETURNING j.id, j.queue, j.status
                """)
        }
        for row in rows {
            let id = (try? row.decode("id", as: Int64.self)) ?? 0
            let status = (try? row.decode("status", as: String.self)) ?? "?"
            logger.warning("job lease expired; job returned", ["jobId": .int(Int(id)), "status": .string(status)])
        }
        metrics.leasesExpired?.increment(by: rows.count)
        return rows.count
    }

    // MARK: Threads

    private var queues: [String] {
        lock.lock()
        defer { lock.unlock() }
        return handlers.keys.sorted()
    }

    private func handler(for queue: String) -> QueueHandler? {
        lock.lock()
        defer { lock.unlock() }
        return handlers[queue]
    }

    private func workLoop() {
        var consecutiveFailures = 0
        while !wake.isStopped {
            let seen = wake.current
            let batch: ClaimedJobs
            do {
                batch = try claim()
                consecutiveFailures = 0
            } catch {
                consecutiveFailures += 1
                if consecutiveFailures == 1 || consecutiveFailures % 20 == 0 {
                    logger.warning("job claim failed; retrying", ["error": .error(error), "failures": .int(consecutiveFailures)])
                }
                wake.sleepUnlessStopped(min(configuration.pollInterval * 5,
                                            RetryBackoff(base: 0.1, maximum: 5).delay(afterAttempt: consecutiveFailures)))
                continue
            }
            if batch.jobs.isEmpty {
                wake.wait(since: seen, timeout: configuration.pollInterval)
            } else {
                run(batch)
            }
        }
    }

    private func maintenanceLoop() {
        let renewEvery = configuration.lease / 3
        var nextRenew = Date().addingTimeInterval(renewEvery)
        var nextReap = Date()
        var nextPurge = Date()
        while !wake.isStopped {
            let now = Date()
            if now >= nextRenew {
                renewLeases()
                nextRenew = now.addingTimeInterval(renewEvery)
            }
            if now >= nextReap {
                do {
                    try reapExpiredLeases()
                } catch {
                    logger.warning("reaping expired job leases failed", ["error": .error(error)])
                }
                nextReap = now.addingTimeInterval(configuration.reapInterval)
            }
            if now >= nextPurge {
                do {
                    try purgeFinishedJobs()
                } catch {
                    logger.warning("purging done jobs failed", ["error": .error(error)])
                }
                nextPurge = now.addingTimeInterval(max(60, configuration.reapInterval))
            }
            wake.sleepUnlessStopped(max(0.005, min(nextRenew, nextReap, nextPurge).timeIntervalSinceNow))
        }
    }

    private func renewLeases() {
        lock.lock()
        let tokens = Array(activeLeases)
        lock.unlock()
        guard !tokens.isEmpty else { return }
        do {
            try pool.withJobConnection { connection in
                // A job locked right now is being completed or failed by its handler: skipped, not waited
                // for. Waiting locked this worker's running jobs in another order than a handler's
                // `Job.complete` does, and the deadlock rolled back the handler's batch (whose jobs ran
                // again: a provider called twice with the same keys). A skipped lease is renewed next time.
                try connection.execute("""
                    UPDATE \(tables.jobs) SET locked_until = now() + make_interval(secs => $2)
                    WHERE id IN (SELECT id FROM \(tables.jobs) WHERE lease_token = ANY($1::uuid[]) AND status = 'running'
                                 FOR UPDATE SKIP LOCKED)
                    """, tokens, configuration.lease)
            }
        } catch {
            logger.warning("renewing job leases failed", ["error": .error(error)])
        }
    }

    // MARK: Claim, run, complete

    struct ClaimedJobs: Sendable {
        let token: UUID
        let jobs: [Job]
    }

    /// One `jobs_due` index range per queue, the oldest `batchSize` of them all taken: `queue = ANY(…)`
    /// with `ORDER BY run_at` would read and sort every pending job of the queues on each claim. Rows a
    /// queue's range locked beyond the batch are let go when the statement ends.
    private func claim() throws(JobQueueError) -> ClaimedJobs {
        let token = UUID()
        let queues = self.queues
        guard !queues.isEmpty else { return ClaimedJobs(token: token, jobs: []) }
        let rows = try pool.withJobConnection { connection in
            try connection.query("""
                WITH due AS (
                    SELECT d.id FROM unnest($1::text[]) AS q(name)
                    CROSS JOIN LATERAL (
                        SELECT id, run_at FROM \(tables.jobs)
                        WHERE status = 'pending' AND queue = q.name AND run_at <= now()
                        ORDER BY run_at
                        LIMIT $2
                        FOR UPDATE SKIP LOCKED) d
                    ORDER BY d.run_at
                    LIMIT $2)
                UPDATE \(tables.jobs) AS j
                SET status = 'running', attempts = j.attempts + 1, locked_by = $3,
                    locked_until = now() + make_interval(secs => $4), lease_token = $5, started_at = now()
                FROM due
                WHERE j.id = due.id
                RETURNING j.id, j.queue, j.attempts, j.max_attempts, j.payload::text AS payload, j.run_at, j.created_at
                """, queues, configuration.batchSize, configuration.workerId, configuration.lease, token)
        }
        var jobs: [Job] = []
        jobs.reserveCapacity(rows.count)
        do {
            for row in rows {
                jobs.append(Job(id: try row.decode("id"), queue: try row.decode("queue"), attempt: try row.decode("attempts"),
                                maxAttempts: try row.decode("max_attempts"), payloadJSON: try row.decode("payload"),
                                runAt: try row.decode("run_at"), enqueuedAt: try row.decode("created_at"),
                                leaseToken: token, table: tables.jobs))
            }
        } catch {
            // Only a schema that is not ours could cause this; the leases expire and the reaper acts.
            throw .database(error)
        }
        jobs.sort { ($0.runAt, $0.id) < ($1.runAt, $1.id) }
        return ClaimedJobs(token: token, jobs: jobs)
    }

    enum Outcome {
        case done(Int64)
        case failed(id: Int64, error: String, delay: Double, permanent: Bool)
    }

    private func run(_ batch: ClaimedJobs) {
        guard !batch.jobs.isEmpty else { return }
        lock.lock()
        activeLeases.insert(batch.token)
        lock.unlock()
        defer {
            lock.lock()
            activeLeases.remove(batch.token)
            lock.unlock()
        }
        var outcomes: [Outcome] = []
        // Batch-handled queues first, one call per queue; then the others one job at a time.
        var batched: [String: [Job]] = [:]
        var single: [Job] = []
        for job in batch.jobs {
            if case .batch? = handler(for: job.queue) { batched[job.queue, default: []].append(job) } else { single.append(job) }
        }
        for queue in batched.keys.sorted() {
            let jobs = batched[queue]!
            if wake.isStopped {
                write(outcomes, token: batch.token)
                release(batched.filter { $0.key >= queue }.values.flatMap { $0 } + single, token: batch.token)
                return
            }
            outcomes += executeBatch(jobs, queue: queue)
        }
        var lastFlush = MonotonicClock.nanoseconds()
        let flushEvery = UInt64(configuration.completionFlushInterval * 1e9)
        for (index, job) in single.enumerated() {
            if wake.isStopped {
                write(outcomes, token: batch.token)
                release(Array(single[index...]), token: batch.token)
                return
            }
            if let outcome = execute(job) { outcomes.append(outcome) }
            let now = MonotonicClock.nanoseconds()
            if now &- lastFlush >= flushEvery {
                write(outcomes, token: batch.token)
                outcomes.removeAll(keepingCapacity: true)
                lastFlush = now
            }
        }
        write(outcomes, token: batch.token)
    }

    /// Runs a batch handler over `jobs` of `queue`; every job gets an outcome.
    private func executeBatch(_ jobs: [Job], queue: String) -> [Outcome] {
        guard case .batch(let handler)? = handler(for: queue) else { return [] }
        let started = MonotonicClock.nanoseconds()
        defer {
            let each = Double(MonotonicClock.nanoseconds() &- started) / 1e9 / Double(jobs.count)
            for _ in jobs { try? metrics.duration?.labels(queue).observe(each) }
        }
        do {
            let failures = try handler(jobs)
            return jobs.map { job in
                guard let failure = failures[job.id] else { return .done(job.id) }
                return outcome(of: failure, job: job)
            }
        } catch {
            return jobs.map { job in
                .failed(id: job.id, error: DataPlaneText.errorText(error), delay: configuration.backoff.delay(afterAttempt: job.attempt),
                        permanent: false)
            }
        }
    }

    private func outcome(of failure: JobFailure, job: Job) -> Outcome {
        switch failure {
        case .permanent(let why):
            return .failed(id: job.id, error: String(why.prefix(2_000)), delay: 0, permanent: true)
        case .retry(let after, let why):
            let delay = after.isFinite ? min(max(after, 0), 30 * 86_400) : configuration.backoff.delay(afterAttempt: job.attempt)
            return .failed(id: job.id, error: String(why.prefix(2_000)), delay: delay, permanent: false)
        }
    }

    /// Runs one handler; nil when nothing is to be written (the lease was lost to another worker).
    private func execute(_ job: Job) -> Outcome? {
        guard case .single(let handler)? = handler(for: job.queue) else {
            return .failed(id: job.id, error: "no handler for queue \(job.queue)", delay: 1, permanent: false)
        }
        let started = MonotonicClock.nanoseconds()
        defer {
            try? metrics.duration?.labels(job.queue).observe(Double(MonotonicClock.nanoseconds() &- started) / 1e9)
        }
        do {
            try handler(job)
            return .done(job.id)
        } catch let failure as JobFailure {
            return outcome(of: failure, job: job)
        } catch JobQueueError.leaseLost {
            logger.warning("job lease lost while running; another worker owns it now", ["jobId": .int(Int(job.id))])
            return nil
        } catch JobQueueError.payloadMismatch(_, let reason) {
            // The payload will never decode: retrying cannot help.
            return .failed(id: job.id, error: "payload does not decode: \(reason)".prefix(2_000).description,
                           delay: 0, permanent: true)
        } catch {
            return .failed(id: job.id, error: DataPlaneText.errorText(error),
                           delay: configuration.backoff.delay(afterAttempt: job.attempt), permanent: false)
        }
    }

    /// Writes outcomes in two statements (done, failed); retried briefly, then left to the lease.
    private func write(_ outcomes: [Outcome], token: UUID) {
        guard !outcomes.isEmpty else { return }
        var done: [Int64] = []
        var failedIds: [Int64] = []
        var errors: [String] = []
        var delays: [Double] = []
        var permanent: [Bool] = []
        for outcome in outcomes {
            switch outcome {
            case .done(let id): done.append(id)
            case .failed(let id, let error, let delay, let isPermanent):
                failedIds.append(id)
                errors.append(error)
                delays.append(delay)
                permanent.append(isPermanent)
            }
        }
        for attempt in 1...3 {
            do {
                let results = try pool.withJobConnection { connection in
                    var completed: [(String, String)] = []
                    if !done.isEmpty {
                        for row in try connection.query("""
                            UPDATE \(tables.jobs)
                            SET status = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL,
                                lease_token = NULL, last_error = NULL
                            WHERE id = ANY($1::int8[]) AND lease_token = $2
                            RETURNING queue, status
                            """, done, token) {
                            completed.append((try row.decode("queue"), try row.decode("status")))
                        }
                    }
                    if !failedIds.isEmpty {
                        for row in try connection.query("""
                            UPDATE \(tables.jobs) AS j
                            SET status = CASE WHEN f.permanent OR j.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                                run_at = CASE WHEN f.permanent OR j.attempts >= j.max_attempts THEN j.run_at
                                              ELSE now() + make_interval(secs => f.delay) END,
                                finished_at = CASE WHEN f.permanent OR j.attempts >= j.max_attempts THEN now() END,
                                last_error = f.error, locked_by = NULL, locked_until = NULL, lease_token = NULL
                            FROM unnest($1::int8[], $2::text[], $3::float8[], $4::bool[]) AS f(id, error, delay, permanent)
                            WHERE j.id = f.id AND j.lease_token = $5
                            RETURNING j.id, j.queue, j.status, j.attempts, f.error
                            """, failedIds, errors, delays, permanent, token) {
                            let queue: String = try row.decode("queue")
                            let status: String = try row.decode("status")
                            completed.append((queue, status))
                            let fields: KeyValuePairs<String, LogValue> = [
                                "jobId": .int(Int(try row.decode("id", as: Int64.self))), "queue": .string(queue),
                                "attempt": .int(try row.decode("attempts")), "error": .string(try row.decode("error")),
                            ]
                            if status == "dead" {
                                logger.error("job dead-lettered", fields)
                            } else {
                                logger.warning("job failed; will retry", fields)
                            }
                        }
                    }
                    return completed
                }
                for (queue, status) in results {
                    switch status {
                    case "done": try? metrics.completed?.labels(queue).increment()
                    case "dead": try? metrics.dead?.labels(queue).increment()
                    default: try? metrics.retried?.labels(queue).increment()
                    }
                }
                let written = results.count
                if written < outcomes.count {
                    // Completed inside the handler's transaction (`job.complete(on:)`), or the lease
                    // was lost: either way another record already decides.
                    logger.debug("some job outcomes were already recorded", ["expected": .int(outcomes.count), "written": .int(written)])
                }
                return
            } catch {
                if attempt == 3 {
                    logger.error("job outcomes not recorded; the jobs run again after their lease",
                                 ["error": .error(error), "jobs": .int(outcomes.count)])
                } else {
                    wake.sleepUnlessStopped(0.1 * Double(attempt))
                }
            }
        }
    }

    /// Gives claimed jobs that have not started back: pending now, the claim's attempt not counted.
    private func release(_ jobs: [Job], token: UUID) {
        guard !jobs.isEmpty else { return }
        do {
            try pool.withJobConnection { connection in
                try connection.execute("""
                    UPDATE \(tables.jobs)
                    SET status = 'pending', attempts = greatest(attempts - 1, 0), locked_by = NULL,
                        locked_until = NULL, lease_token = NULL
                    WHERE id = ANY($1::int8[]) AND lease_token = $2
                    """, jobs.map(\.id), token)
            }
        } catch {
            logger.warning("claimed jobs not released; they return when their lease expires", ["error": .error(error)])
        }
    }
}

/// The worker's metrics; every member nil when no registry was given.
struct JobWorkerMetrics: Sendable {
    let completed: CounterFamily?
    let retried: CounterFamily?
    let dead: CounterFamily?
    let duration: HistogramFamily?
    let leasesExpired: Counter?

    init(registry: MetricsRegistry?) throws(JobQueueError) {
        guard let registry else {
            (completed, retried, dead, duration, leasesExpired) = (nil, nil, nil, nil, nil)
            return
        }
        do {
            completed = try registry.counter("jobs_completed_total", help: "Jobs that finished successfully.", labelNames: ["queue"])
            retried = try registry.counter("jobs_retried_total", help: "Job attempts that failed and were rescheduled.",
                                           labelNames: ["queue"])
            dead = try registry.counter("jobs_dead_total", help: "Jobs dead-lettered.", labelNames: ["queue"])
            duration = try registry.histogram("job_duration_seconds", help: "Time a job handler ran.", labelNames: ["queue"])
            leasesExpired = try registry.counter("jobs_leases_expired_total",
                                                 help: "Jobs returned because their worker's lease expired.")
        } catch {
            throw .invalidConfiguration("metrics: \(error)")
        }
    }
}
