import Foundation
import Postgres
@testable import ServiceKit
import XCTest

final class SchedulerTests: XCTestCase {
    private var schemas: [String] = []
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        cleanups.reversed().forEach { $0() }
        cleanups.removeAll()
        schemas.forEach(DataPlaneTestDatabase.drop)
        schemas.removeAll()
        super.tearDown()
    }

    private static let ticksSQL = """
        CREATE TABLE ticks (name text NOT NULL, scheduled_at timestamptz NOT NULL, instance text NOT NULL,
                            missed integer NOT NULL, ran_at timestamptz NOT NULL DEFAULT clock_timestamp());
        """

    private func makeSchema(_ prefix: String) throws -> (String, PostgresPool) {
        let schema = try DataPlaneTestDatabase.makeSchema(prefix, extra: Self.ticksSQL)
        schemas.append(schema)
        let pool = try DataPlaneTestDatabase.pool(schema: schema, size: 4)
        cleanups.append { pool.close() }
        return (schema, pool)
    }

    private func scheduler(schema: String, pool: PostgresPool, instance: String,
                           metrics: MetricsRegistry? = nil, sink: InMemoryLogSink = InMemoryLogSink()) throws -> Scheduler {
        let configuration = SchedulerConfiguration(schema: schema, instanceId: instance, pollInterval: 0.05,
                                                   failureBackoff: RetryBackoff(base: 0.1, maximum: 0.2))
        let scheduler = try Scheduler(configuration: configuration, pool: pool, logger: dataPlaneLogger(sink), metrics: metrics)
        cleanups.append { scheduler.stop(timeout: 5) }
        return scheduler
    }

    /// Records every run in `ticks`, on the tick's own connection (inside its transaction).
    private func recorder(_ instance: String) -> Scheduler.Handler {
        { tick, conn in
            try conn.execute("INSERT INTO ticks (name, scheduled_at, instance, missed) VALUES ($1, $2, $3, $4)",
                             tick.name, tick.scheduledAt, instance, tick.missedTicks)
        }
    }

    func testEachTickRunsOnceAcrossThreeReplicas() throws {
        let (schema, pool) = try makeSchema("replicas")
        var schedulers: [Scheduler] = []
        for i in 0..<3 {
            let replicaPool = try DataPlaneTestDatabase.pool(schema: schema, size: 3)
            cleanups.append { replicaPool.close() }
            let scheduler = try scheduler(schema: schema, pool: replicaPool, instance: "replica-\(i)")
            try scheduler.schedule("sweep", every: 0.25, handler: recorder("replica-\(i)"))
            schedulers.append(scheduler)
        }
        try schedulers.forEach { try $0.start() }
        Thread.sleep(forTimeInterval: 2)
        schedulers.forEach { $0.stop(timeout: 5) }

        let runs = try pool.withConnection { conn in
            try conn.query("SELECT scheduled_at, instance FROM ticks ORDER BY scheduled_at").map { row in
                (try row.decode("scheduled_at", as: Date.self), try row.decode("instance", as: String.self))
            }
        }
        XCTAssertGreaterThanOrEqual(runs.count, 4, "about 8 ticks in 2 s")
        XCTAssertLessThanOrEqual(runs.count, 9)
        XCTAssertEqual(Set(runs.map(\.0)).count, runs.count, "no tick ran twice")
        for (earlier, later) in zip(runs, runs.dropFirst()) {
            // A tick claimed very late folds the missed ones in, so the gap is a whole number of intervals.
            let steps = later.0.timeIntervalSince(earlier.0) / 0.25
            XCTAssertEqual(steps, steps.rounded(), accuracy: 0.004, "ticks stay on the grid")
            XCTAssertGreaterThanOrEqual(steps.rounded(), 1)
        }
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT runs FROM schedules WHERE name = 'sweep'"), runs.count)
    }

    func testMissedTicksRunOnceOnRecoveryAndStayOnTheGrid() throws {
        let (schema, pool) = try makeSchema("missed")
        let scheduler = try scheduler(schema: schema, pool: pool, instance: "only")
        try scheduler.schedule("nightly", every: 60, handler: recorder("only"))
        XCTAssertEqual(try scheduler.runDueTicks(), ["nightly"], "a new schedule's first tick is due at once")
        XCTAssertEqual(try scheduler.runDueTicks(), [], "the next one is a minute away")

        // Every replica was down for ten and a half intervals.
        let old = try pool.withConnection { conn in
            try conn.query("UPDATE schedules SET next_run_at = now() - interval '630 seconds' RETURNING next_run_at")[0]
                .decode("next_run_at", as: Date.self)
        }
        XCTAssertEqual(try scheduler.runDueTicks(), ["nightly"])
        XCTAssertEqual(try scheduler.runDueTicks(), [], "once, not eleven times")
        let row = try pool.withConnection { conn in
            try conn.query("""
                SELECT t.missed, s.next_run_at, s.next_run_at > now() AS future
                FROM ticks t, schedules s ORDER BY t.ran_at DESC LIMIT 1
                """)[0]
        }
        XCTAssertEqual(try row.decode("missed", as: Int.self), 10)
        XCTAssertTrue(try row.decode("future", as: Bool.self))
        let next = try row.decode("next_run_at", as: Date.self)
        XCTAssertEqual(next.timeIntervalSince(old), 660, accuracy: 0.001, "the first grid point after now")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM ticks"), 2)

        // A restarted replica keeps the schedule's next_run_at instead of running at once.
        let restarted = try self.scheduler(schema: schema, pool: pool, instance: "restarted")
        try restarted.schedule("nightly", every: 60, handler: recorder("restarted"))
        XCTAssertEqual(try restarted.runDueTicks(), [])
    }

    func testAFailingTickRollsBackAndIsRetried() throws {
        let (schema, pool) = try makeSchema("failing")
        let calls = DataPlaneBox(0)
        struct Flaky: Error, CustomStringConvertible { var description: String { "flaky tick" } }
        let metrics = MetricsRegistry()
        let sink = InMemoryLogSink()
        let scheduler = try scheduler(schema: schema, pool: pool, instance: "one", metrics: metrics, sink: sink)
        try scheduler.schedule("report", every: 3_600) { tick, conn in
            try conn.execute("INSERT INTO ticks (name, scheduled_at, instance, missed) VALUES ($1, $2, 'one', 0)",
                             tick.name, tick.scheduledAt)
            if calls.update({ $0 += 1; return $0 }) == 1 { throw Flaky() }
        }
        XCTAssertEqual(try scheduler.runDueTicks(), ["report"])
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM ticks"), 0, "its effects rolled back")
        let failed = try pool.withConnection { conn in
            try conn.query("""
                SELECT last_error, consecutive_failures, runs,
                       extract(epoch FROM next_run_at - now())::float8 AS wait FROM schedules
                """)[0]
        }
        XCTAssertEqual(try failed.decode("last_error", as: String?.self), "flaky tick")
        XCTAssertEqual(try failed.decode("consecutive_failures", as: Int.self), 1)
        XCTAssertEqual(try failed.decode("runs", as: Int.self), 0)
        let wait = try failed.decode("wait", as: Double.self)
        XCTAssertGreaterThan(wait, 0, "retried after a backoff, not at once")
        XCTAssertLessThanOrEqual(wait, 0.21, "and long before the next hourly tick")
        XCTAssertTrue(sink.lines.contains { $0.contains("scheduled tick failed") })

        try scheduler.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 5) { try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM ticks") == 1 })
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT consecutive_failures FROM schedules"), 0)
        let text = metrics.render()
        XCTAssertTrue(text.contains("scheduler_tick_failures_total{schedule=\"report\"} 1"), text)
        XCTAssertTrue(text.contains("scheduler_ticks_total{schedule=\"report\"} 1"), text)
    }

    func testDefinitionsAreValidated() throws {
        let (schema, pool) = try makeSchema("validate")
        let scheduler = try scheduler(schema: schema, pool: pool, instance: "v")
        XCTAssertThrowsError(try scheduler.schedule("bad name", every: 1) { _, _ in })
        XCTAssertThrowsError(try scheduler.schedule("zero", every: 0) { _, _ in })
        XCTAssertThrowsError(try scheduler.schedule("nan", every: .nan) { _, _ in })
        XCTAssertThrowsError(try scheduler.start(), "nothing to run")
        try scheduler.schedule("ok", every: 10) { _, _ in }
        XCTAssertThrowsError(try scheduler.schedule("ok", every: 5) { _, _ in }, "defined twice")
        try scheduler.start()
        XCTAssertThrowsError(try scheduler.schedule("late", every: 5) { _, _ in })
        XCTAssertThrowsError(try Scheduler(configuration: SchedulerConfiguration(schema: schema, pollInterval: 0), pool: pool,
                                           logger: dataPlaneLogger()))
        XCTAssertThrowsError(try Scheduler(configuration: SchedulerConfiguration(schema: "a;b"), pool: pool, logger: dataPlaneLogger()))
    }

    func testBackoffGrowsExponentiallyWithinItsBounds() {
        let backoff = RetryBackoff(base: 1, maximum: 10)
        XCTAssertEqual(backoff.ceiling(afterAttempt: 1), 1)
        XCTAssertEqual(backoff.ceiling(afterAttempt: 3), 4)
        XCTAssertEqual(backoff.ceiling(afterAttempt: 5), 10)
        XCTAssertEqual(backoff.ceiling(afterAttempt: 1_000_000), 10)
        for attempt in 1...8 {
            let delay = backoff.delay(afterAttempt: attempt)
            XCTAssertGreaterThanOrEqual(delay, backoff.ceiling(afterAttempt: attempt) / 2)
            XCTAssertLessThanOrEqual(delay, backoff.ceiling(afterAttempt: attempt))
        }
        XCTAssertEqual(RetryBackoff(base: -5, maximum: .infinity).ceiling(afterAttempt: 1), 0.001, "clamped, never negative")
    }
}
