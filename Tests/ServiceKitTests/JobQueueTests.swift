import Foundation
import Postgres
@testable import ServiceKit
import XCTest

final class JobQueueTests: XCTestCase {
    private var schemas: [String] = []
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        cleanups.reversed().forEach { $0() }
        cleanups.removeAll()
        schemas.forEach(DataPlaneTestDatabase.drop)
        schemas.removeAll()
        super.tearDown()
    }

    private static let executionsSQL = """
        CREATE TABLE executions (job_id bigint NOT NULL, worker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE TABLE effects (job_id bigint PRIMARY KEY);
        """

    private func makeSchema(_ prefix: String) throws -> (String, PostgresPool) {
        let schema = try DataPlaneTestDatabase.makeSchema(prefix, extra: Self.executionsSQL)
        schemas.append(schema)
        let pool = try DataPlaneTestDatabase.pool(schema: schema, size: 8)
        cleanups.append { pool.close() }
        return (schema, pool)
    }

    private func worker(schema: String, pool: PostgresPool, id: String = InstanceName.make("test-worker"), threads: Int = 2,
                        batchSize: Int = 50, lease: TimeInterval = 5, pollInterval: TimeInterval = 0.02,
                        reapInterval: TimeInterval = 0.1, metrics: MetricsRegistry? = nil,
                        sink: InMemoryLogSink = InMemoryLogSink()) throws -> JobWorker {
        let configuration = JobWorkerConfiguration(schema: schema, workerId: id, threads: threads, batchSize: batchSize,
                                                   lease: lease, pollInterval: pollInterval, reapInterval: reapInterval,
                                                   completionFlushInterval: 0.05, backoff: RetryBackoff(base: 0.05, maximum: 0.1))
        let worker = try JobWorker(configuration: configuration, pool: pool, logger: dataPlaneLogger(sink), metrics: metrics)
        cleanups.append { worker.stop(timeout: 10) }
        return worker
    }

    /// A handler that records each execution in `executions`.
    private func recording(_ pool: PostgresPool, worker: String) -> JobWorker.Handler {
        { job in
            try pool.execute("INSERT INTO executions (job_id, worker) VALUES ($1, $2)", job.id, worker)
        }
    }

    private func statistics(_ schema: String, _ pool: PostgresPool) throws -> JobStatistics {
        try pool.withConnection { conn in try JobQueue(schema: schema).statistics(on: conn) }
    }

    // MARK: Enqueue

    func testEnqueueIsTransactionalDeduplicatedAndValidated() throws {
        let (schema, pool) = try makeSchema("enqueue")
        let queue = try JobQueue(schema: schema)
        struct Abort: Error {}
        XCTAssertThrowsError(try pool.transaction { conn in
            try queue.enqueue(on: conn, queue: "q", payload: ["n": 1])
            throw Abort()
        })
        XCTAssertEqual(try statistics(schema, pool).pending, 0, "rolled back with the caller")

        try pool.withConnection { conn in
            XCTAssertThrowsError(try queue.enqueue(on: conn, queue: "q", payload: ["n": 1])) { error in
                guard case JobQueueError.notInTransaction = error else { return XCTFail("\(error)") }
            }
        }
        let future = Date().addingTimeInterval(3_600)
        try pool.transaction { conn in
            let first = try queue.enqueue(on: conn, queue: "q", payload: ["n": 1], dedupeKey: "k1")
            XCTAssertNotNil(first)
            XCTAssertNil(try queue.enqueue(on: conn, queue: "q", payload: ["n": 2], dedupeKey: "k1"), "same key: not again")
            XCTAssertNotNil(try queue.enqueue(on: conn, queue: "other", payload: ["n": 2], dedupeKey: "k1"), "keys are per queue")
            let ids = try queue.enqueue(on: conn, jobs: [
                NewJob(queue: "q", payload: ["n": 3]),
                NewJob(queue: "q", payload: ["n": 4], dedupeKey: "k1"),
                NewJob(queue: "q", payload: ["n": 5], runAt: future, maxAttempts: 1, dedupeKey: "k2"),
                NewJob(queue: "q", payload: ["n": 6], dedupeKey: "k2"),
                NewJob(queue: "q", payload: ["n": 7]),
            ])
            XCTAssertEqual(ids.map { $0 != nil }, [true, false, true, false, true])
            let n = try conn.query("SELECT (payload->>'n')::int AS n FROM jobs WHERE id = $1", ids[2]!)[0]
            XCTAssertEqual(try n.decode("n", as: Int.self), 5, "returned ids map to their inputs")
        }
        XCTAssertEqual(try statistics(schema, pool).pending, 5)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM jobs WHERE run_at > now() + interval '59 minutes'"), 1)

        XCTAssertThrowsError(try NewJob(queue: "bad queue", payload: 1))
        XCTAssertThrowsError(try NewJob(queue: "q", payload: 1, maxAttempts: 0))
        XCTAssertThrowsError(try NewJob(queue: "q", payloadJSON: "{"))
        XCTAssertThrowsError(try NewJob(queue: "q", payload: 1, dedupeKey: ""))
        XCTAssertThrowsError(try JobQueue(schema: "x\"; drop"))
        var small = queue
        small.maximumPayloadBytes = 10
        XCTAssertThrowsError(try pool.transaction { conn in try small.enqueue(on: conn, queue: "q", payload: String(repeating: "x", count: 20)) })
        XCTAssertThrowsError(try JobWorker(configuration: JobWorkerConfiguration(schema: schema, batchSize: 0), pool: pool,
                                           logger: dataPlaneLogger()))
    }

    // MARK: Workers

    func testDoneJobsArePurgedAfterTheirRetentionAndOthersKept() throws {
        let (schema, pool) = try makeSchema("purge")
        let queue = try JobQueue(schema: schema)
        var configuration = JobWorkerConfiguration(schema: schema, workerId: "purger", threads: 1, batchSize: 10, lease: 5,
                                                   pollInterval: 0.02, reapInterval: 0.1)
        configuration.finishedRetention = 0.3
        let worker = try JobWorker(configuration: configuration, pool: pool, logger: dataPlaneLogger(InMemoryLogSink()))
        try worker.register(queue: "work") { job in if job.payloadJSON.contains("fail") { throw JobFailure.permanent("no") } }
        func enqueue(_ payloads: [String]) throws {
            try pool.transaction { conn in _ = try queue.enqueue(on: conn, jobs: try payloads.map { try NewJob(queue: "work", payload: ["p": $0]) }) }
        }
        try enqueue(["a", "b", "c", "fail"])
        while try worker.runDueJobs() > 0 {}
        Thread.sleep(forTimeInterval: 0.4)
        try enqueue(["young"])
        while try worker.runDueJobs() > 0 {}
        XCTAssertEqual(try worker.purgeFinishedJobs(), 3)
        // The young done job stays, and so does the dead one (an operator's to see).
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM jobs WHERE status = 'done'"), 1)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM jobs WHERE status = 'dead'"), 1)
        XCTAssertEqual(try worker.purgeFinishedJobs(), 0)
        configuration.finishedRetention = 0
        XCTAssertThrowsError(try JobWorker(configuration: configuration, pool: pool, logger: dataPlaneLogger(InMemoryLogSink())))
    }

    func testThousandJobsRunExactlyOnceAcrossTwoReplicas() throws {
        let (schema, pool) = try makeSchema("replicas")
        let otherPool = try DataPlaneTestDatabase.pool(schema: schema, size: 8)
        cleanups.append { otherPool.close() }
        let queue = try JobQueue(schema: schema)
        try pool.transaction { conn in
            let jobs = try (0..<1_000).map { try NewJob(queue: "work", payload: ["n": $0]) }
            XCTAssertEqual(try queue.enqueue(on: conn, jobs: jobs).compactMap { $0 }.count, 1_000)
        }
        let metrics = MetricsRegistry()
        let a = try worker(schema: schema, pool: pool, id: "replica-a", threads: 2, metrics: metrics)
        let b = try worker(schema: schema, pool: otherPool, id: "replica-b", threads: 2)
        try a.register(queue: "work", handler: recording(pool, worker: "replica-a"))
        try b.register(queue: "work", handler: recording(otherPool, worker: "replica-b"))

        let started = Date()
        try a.start()
        try b.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 60) { try statistics(schema, pool).done == 1_000 })
        let elapsed = Date().timeIntervalSince(started)
        print("job queue throughput: \(Int(1_000 / elapsed)) jobs/s (1,000 jobs, 2 replicas x 2 threads, batch 50, one INSERT per job)")

        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM executions"), 1_000, "no job ran twice")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(DISTINCT job_id) FROM executions"), 1_000)
        XCTAssertGreaterThan(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM executions WHERE worker = 'replica-a'"), 0)
        XCTAssertGreaterThan(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM executions WHERE worker = 'replica-b'"), 0)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM jobs WHERE attempts <> 1 OR lease_token IS NOT NULL"), 0)
        XCTAssertTrue(metrics.render().contains("jobs_completed_total{queue=\"work\"}"))
    }

    func testFailuresRetryWithBackoffThenDeadLetter() throws {
        let (schema, pool) = try makeSchema("retry")
        let queue = try JobQueue(schema: schema)
        var ids: [String: Int64] = [:]
        try pool.transaction { conn in
            ids["flaky"] = try queue.enqueue(on: conn, queue: "q", payload: ["kind": "flaky"], maxAttempts: 3)
            ids["always"] = try queue.enqueue(on: conn, queue: "q", payload: ["kind": "always"], maxAttempts: 3)
            ids["permanent"] = try queue.enqueue(on: conn, queue: "q", payload: ["kind": "permanent"], maxAttempts: 5)
            ids["later"] = try queue.enqueue(on: conn, queue: "q", payload: ["kind": "later"], maxAttempts: 5)
            ids["garbage"] = try queue.enqueue(on: conn, queue: "q", payload: [1, 2, 3], maxAttempts: 5)
        }
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let attemptTimes = DataPlaneBox<[String: [Date]]>([:])
        let metrics = MetricsRegistry()
        let sink = InMemoryLogSink()
        let worker = try worker(schema: schema, pool: pool, threads: 1, metrics: metrics, sink: sink)
        try worker.register(queue: "q") { job in
            let kind = try job.payload(as: [String: String].self)["kind"] ?? "?"
            attemptTimes.update { $0[kind, default: []].append(Date()) }
            switch kind {
            case "flaky": if job.attempt < 3 { throw Boom() }
            case "always": throw Boom()
            case "permanent": throw JobFailure.permanent("customer no longer exists")
            case "later": if job.attempt == 1 { throw JobFailure.retry(after: 0.3, reason: "quota") }
            default: break
            }
        }
        try worker.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 15) {
            let s = try statistics(schema, pool)
            return s.done == 2 && s.dead == 3
        }, "\(String(describing: try? statistics(schema, pool)))")

        func row(_ name: String) throws -> PostgresRow {
            try pool.withConnection { conn in try conn.query("SELECT status, attempts, last_error FROM jobs WHERE id = $1", ids[name]!)[0] }
        }
        XCTAssertEqual(try row("flaky").decode("status", as: String.self), "done")
        XCTAssertEqual(try row("flaky").decode("attempts", as: Int.self), 3)
        XCTAssertEqual(try row("always").decode("status", as: String.self), "dead")
        XCTAssertEqual(try row("always").decode("attempts", as: Int.self), 3)
        XCTAssertEqual(try row("always").decode("last_error", as: String?.self), "boom")
        XCTAssertEqual(try row("permanent").decode("status", as: String.self), "dead")
        XCTAssertEqual(try row("permanent").decode("attempts", as: Int.self), 1, "no retry for a permanent failure")
        XCTAssertEqual(try row("garbage").decode("status", as: String.self), "dead", "a payload that cannot decode is permanent")
        XCTAssertEqual(try row("later").decode("attempts", as: Int.self), 2)

        let times = attemptTimes.current
        let always = try XCTUnwrap(times["always"])
        XCTAssertEqual(always.count, 3)
        XCTAssertGreaterThanOrEqual(always[1].timeIntervalSince(always[0]), 0.02, "backoff between attempts")
        let later = try XCTUnwrap(times["later"])
        XCTAssertGreaterThanOrEqual(later[1].timeIntervalSince(later[0]), 0.25, "the handler's own retry delay")
        XCTAssertTrue(metrics.render().contains("jobs_dead_total{queue=\"q\"} 3"), metrics.render())
        XCTAssertTrue(sink.lines.contains { $0.contains("job dead-lettered") })

        // An operator retries the dead letters: the job runs again (and, permanent again, is dead again —
        // possibly before a poll could see it pending, so the handler's runs tell).
        try pool.withConnection { conn in XCTAssertEqual(try queue.retryDead(on: conn, ids: [ids["permanent"]!]), 1) }
        XCTAssertTrue(dataPlaneWait(timeout: 5) { attemptTimes.current["permanent"]?.count == 2 })
        XCTAssertTrue(try dataPlaneWait(timeout: 5) { try statistics(schema, pool).dead == 3 })
    }

    func testExpiredLeaseOfAKilledWorkerIsReclaimed() throws {
        let (schema, pool) = try makeSchema("lease")
        let queue = try JobQueue(schema: schema)
        var revived: Int64 = 0
        var poisoned: Int64 = 0
        try pool.transaction { conn in
            revived = try queue.enqueue(on: conn, queue: "q", payload: 1, maxAttempts: 3)!
            poisoned = try queue.enqueue(on: conn, queue: "q", payload: 2, maxAttempts: 1)!
        }
        // A worker claimed both and was killed: its leases ran out a moment ago.
        try pool.withConnection { conn in
            try conn.execute("""
                UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'killed-worker', lease_token = $1,
                       locked_until = now() - interval '1 second'
                """, UUID())
        }
        let worker = try worker(schema: schema, pool: pool, threads: 1)
        try worker.register(queue: "q", handler: recording(pool, worker: "w"))
        XCTAssertEqual(try worker.runDueJobs(), 0, "a running job is not claimed while only the reaper can free it")
        XCTAssertEqual(try worker.reapExpiredLeases(), 2)
        XCTAssertEqual(try worker.runDueJobs(), 1)
        let rows = try pool.withConnection { conn in
            try conn.query("SELECT id, status, attempts, last_error FROM jobs ORDER BY id").map { row in
                (try row.decode("id", as: Int64.self), try row.decode("status", as: String.self),
                 try row.decode("attempts", as: Int.self), try row.decode("last_error", as: String?.self))
            }
        }
        XCTAssertEqual(rows[0].0, revived)
        XCTAssertEqual(rows[0].1, "done")
        XCTAssertEqual(rows[0].2, 2)
        XCTAssertEqual(rows[1].0, poisoned)
        XCTAssertEqual(rows[1].1, "dead", "its only attempt was the one that killed its worker")
        XCTAssertTrue(rows[1].3?.contains("killed-worker") == true)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM executions"), 1)

        // The same through the running worker's maintenance thread.
        var third: Int64 = 0
        try pool.transaction { conn in third = try queue.enqueue(on: conn, queue: "q", payload: 3)! }
        try pool.withConnection { conn in
            try conn.execute("""
                UPDATE jobs SET status = 'running', attempts = 1, lease_token = $2, locked_until = now() + interval '0.3 seconds'
                WHERE id = $1
                """, third, UUID())
        }
        try worker.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM executions WHERE job_id = $1", third) == 1
        })
    }

    func testLongJobKeepsItsLeaseAndRunsOnce() throws {
        let (schema, pool) = try makeSchema("renew")
        let otherPool = try DataPlaneTestDatabase.pool(schema: schema, size: 4)
        cleanups.append { otherPool.close() }
        try pool.transaction { conn in _ = try JobQueue(schema: schema).enqueue(on: conn, queue: "slow", payload: 1) }
        let runs = DataPlaneBox(0)
        let handler: JobWorker.Handler = { _ in
            runs.update { $0 += 1 }
            Thread.sleep(forTimeInterval: 1.5)
        }
        // A 0.6 s lease, a 1.5 s job, and a second replica reaping every 50 ms: only renewal keeps it.
        let a = try worker(schema: schema, pool: pool, threads: 1, lease: 0.6, reapInterval: 0.05)
        let b = try worker(schema: schema, pool: otherPool, threads: 1, lease: 0.6, reapInterval: 0.05)
        try a.register(queue: "slow", handler: handler)
        try b.register(queue: "slow", handler: handler)
        try a.start()
        try b.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) { try statistics(schema, pool).done == 1 })
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(runs.current, 1)
    }

    func testGracefulStopReleasesClaimedJobsThatHaveNotStarted() throws {
        let (schema, pool) = try makeSchema("stop")
        try pool.transaction { conn in
            _ = try JobQueue(schema: schema).enqueue(on: conn, jobs: (0..<10).map { try NewJob(queue: "q", payload: $0) })
        }
        let started = DataPlaneBox(0)
        let worker = try worker(schema: schema, pool: pool, threads: 1, batchSize: 10, lease: 30)
        try worker.register(queue: "q") { _ in
            started.update { $0 += 1 }
            Thread.sleep(forTimeInterval: 0.2)
        }
        try worker.start()
        XCTAssertTrue(dataPlaneWait(timeout: 5) { started.current >= 1 })
        XCTAssertTrue(worker.stop(timeout: 10))
        let stats = try statistics(schema, pool)
        XCTAssertEqual(stats.done, started.current, "the running job finished and was recorded")
        XCTAssertEqual(stats.running, 0)
        XCTAssertEqual(stats.pending, 10 - started.current)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM jobs WHERE status = 'pending' AND attempts = 0"),
                       10 - started.current, "released without counting an attempt")
        XCTAssertThrowsError(try worker.start())
        XCTAssertThrowsError(try worker.register(queue: "late") { _ in })
    }

    func testCompletingInsideTheHandlersTransactionMakesEffectsExactlyOnce() throws {
        let (schema, pool) = try makeSchema("complete")
        try pool.transaction { conn in
            _ = try JobQueue(schema: schema).enqueue(on: conn, jobs: (0..<20).map { try NewJob(queue: "q", payload: $0) })
        }
        let worker = try worker(schema: schema, pool: pool, threads: 2, batchSize: 5)
        try worker.register(queue: "q") { job in
            try pool.transaction { conn in
                try conn.execute("INSERT INTO effects (job_id) VALUES ($1)", job.id)
                try job.complete(on: conn)
            }
        }
        try worker.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) { try statistics(schema, pool).done == 20 })
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM effects"), 20)

        // A worker whose lease was taken over cannot complete: its transaction rolls back.
        var id: Int64 = 0
        try pool.transaction { conn in id = try JobQueue(schema: schema).enqueue(on: conn, queue: "other", payload: 1)! }
        try pool.withConnection { conn in
            try conn.execute("UPDATE jobs SET status = 'running', lease_token = $2 WHERE id = $1", id, UUID())
        }
        let stale = Job(id: id, queue: "other", attempt: 1, maxAttempts: 3, payloadJSON: "1", runAt: Date(), enqueuedAt: Date(),
                        leaseToken: UUID(), table: try DataPlaneTables(schema: schema).jobs)
        XCTAssertThrowsError(try pool.transaction { conn in
            try conn.execute("INSERT INTO effects (job_id) VALUES ($1)", id)
            try stale.complete(on: conn)
        }) { error in
            guard case JobQueueError.leaseLost = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM effects WHERE job_id = $1", id), 0)
    }

    // MARK: Batch handlers

    func testABatchHandlerGetsItsQueuesJobsTogetherAndItsAnswerDecidesEachJob() throws {
        let (schema, pool) = try makeSchema("batch")
        try pool.transaction { conn in
            _ = try JobQueue(schema: schema).enqueue(on: conn, jobs: (0..<30).map { try NewJob(queue: "b", payload: $0, maxAttempts: 3) }
                                                     + (0..<5).map { try NewJob(queue: "single", payload: $0) })
        }
        let calls = DataPlaneBox<[Int]>([])
        let worker = try worker(schema: schema, pool: pool, threads: 1, batchSize: 50)
        try worker.register(batchQueue: "b") { jobs in
            calls.update { $0.append(jobs.count) }
            var failures: [Int64: JobFailure] = [:]
            // Payload 0 fails for good; payloads 1–4 once (retried, then done); the rest complete in the
            // handler's own transaction, together.
            var completed: [Job] = []
            for job in jobs {
                let n = try job.payload(as: Int.self)
                if n == 0 { failures[job.id] = .permanent("zero") } else if n < 5 && job.attempt == 1 {
                    failures[job.id] = .retry(after: 0, reason: "once")
                } else if n >= 5 { completed.append(job) }
            }
            try pool.transaction { conn in
                for job in completed { try conn.execute("INSERT INTO effects (job_id) VALUES ($1)", job.id) }
                try Job.complete(completed, on: conn)
            }
            return failures
        }
        try worker.register(queue: "single") { _ in }
        try worker.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) { let s = try statistics(schema, pool); return s.done == 34 && s.dead == 1 })
        XCTAssertEqual(calls.current.first, 30, "the first call got every claimed job of its queue")
        XCTAssertEqual(calls.current.dropFirst().reduce(0, +), 4, "only the retried jobs came again")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM effects"), 25)

        // Completing many is all or none: one job taken over by another worker rolls the whole batch back.
        var ids: [Int64] = []
        try pool.transaction { conn in
            ids = try JobQueue(schema: schema).enqueue(on: conn, jobs: (0..<3).map { try NewJob(queue: "other", payload: $0) }).compactMap { $0 }
        }
        let token = UUID()
        try pool.withConnection { conn in
            try conn.execute("UPDATE jobs SET status = 'running', lease_token = $2 WHERE id = ANY($1::int8[])", ids, token)
        }
        let table = try DataPlaneTables(schema: schema).jobs
        var claimed = ids.map { Job(id: $0, queue: "other", attempt: 1, maxAttempts: 3, payloadJSON: "1", runAt: Date(), enqueuedAt: Date(),
                                    leaseToken: token, table: table) }
        claimed[2] = Job(id: ids[2], queue: "other", attempt: 1, maxAttempts: 3, payloadJSON: "1", runAt: Date(), enqueuedAt: Date(),
                         leaseToken: UUID(), table: table)
        XCTAssertThrowsError(try pool.transaction { conn in try Job.complete(claimed, on: conn) }) { error in
            guard case JobQueueError.leaseLost = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM jobs WHERE id = ANY($1::int8[]) AND status = 'done'", ids), 0)
    }
}
