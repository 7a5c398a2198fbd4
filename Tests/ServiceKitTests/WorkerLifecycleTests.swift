import Foundation
import Postgres
import XCTest
@testable import ServiceKit

/// The shared start/stop rules of the relay, job worker and scheduler, and the shared schema check.
final class WorkerLifecycleTests: XCTestCase {
    func testStoppedWorkersCannotStartAgain() throws {
        let schema = try DataPlaneTestDatabase.makeSchema("lifecycle")
        defer { DataPlaneTestDatabase.drop(schema) }
        let pool = try DataPlaneTestDatabase.pool(schema: schema)
        defer { pool.close() }

        let worker = try JobWorker(configuration: JobWorkerConfiguration(schema: schema), pool: pool, logger: dataPlaneLogger())
        try worker.register(queue: "q") { _ in }
        try worker.start()
        try worker.start()   // a second start while running changes nothing
        XCTAssertTrue(worker.stop(timeout: 10))
        XCTAssertThrowsError(try worker.start()) { error in
            guard case JobQueueError.invalidState = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try worker.register(queue: "late") { _ in }, "handlers are registered before start only")

        let scheduler = try Scheduler(configuration: SchedulerConfiguration(schema: schema), pool: pool, logger: dataPlaneLogger())
        try scheduler.schedule("tick", every: 60) { _, _ in }
        try scheduler.start()
        XCTAssertTrue(scheduler.stop(timeout: 10))
        XCTAssertThrowsError(try scheduler.start()) { error in
            guard case SchedulerError.invalidState = error else { return XCTFail("\(error)") }
        }
    }

    func testNothingStartsWithoutWork() throws {
        let pool = try DataPlaneTestDatabase.pool(schema: "unused")
        defer { pool.close() }
        let worker = try JobWorker(configuration: JobWorkerConfiguration(schema: "unused"), pool: pool, logger: dataPlaneLogger())
        XCTAssertThrowsError(try worker.start(), "a worker with no queue handler refuses to start")
        let scheduler = try Scheduler(configuration: SchedulerConfiguration(schema: "unused"), pool: pool, logger: dataPlaneLogger())
        XCTAssertThrowsError(try scheduler.start(), "a scheduler with no schedule refuses to start")
    }

    func testUnsafeSchemaNamesAreRefusedEverywhere() throws {
        let pool = try DataPlaneTestDatabase.pool(schema: "unused")
        defer { pool.close() }
        let bad = "x\"; DROP TABLE jobs; --"
        XCTAssertThrowsError(try JobWorker(configuration: JobWorkerConfiguration(schema: bad), pool: pool, logger: dataPlaneLogger())) { error in
            guard case JobQueueError.invalidConfiguration(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("not a valid identifier"), message)
        }
        XCTAssertThrowsError(try Scheduler(configuration: SchedulerConfiguration(schema: bad), pool: pool, logger: dataPlaneLogger())) { error in
            guard case SchedulerError.invalidConfiguration = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Outbox(schema: bad))
        XCTAssertThrowsError(try Inbox(schema: bad))
        XCTAssertThrowsError(try JobQueue(schema: bad))
    }
}
