@testable import Analytics
import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// A fact's event id is stored once whatever path brings it again — a redelivery after the inbox
/// purged its id, a replayed bulk batch, a batch holding it twice, two transactions at once — and the
/// rollups count it once (review finding: de-duplication relied on the inbox alone).
final class FactDeduplicationTests: XCTestCase {
    let data = AnalyticsTestDatabase()
    let store = FactStore(timeZone: "Asia/Shanghai")

    override func tearDown() { data.dropAll() }

    /// The rollups of `facts` ingested once, to compare with.
    func reference(_ facts: [Fact]) throws -> [String: [String: String]] {
        let db = try data.make()
        try db.transaction { try FactStore(timeZone: "Asia/Shanghai", rollupShards: 1).ingest(facts, on: $0) }
        return try FactStoreTests.dump(db)
    }

    func testFactsStoredAgainThroughAnyPathCountOnce() throws {
        let facts = FactStoreTests.journeys(seed: 5, customers: 150)
        let expected = try reference(facts)
        let db = try data.make()
        XCTAssertEqual(try db.transaction { try store.ingest(facts, on: $0) }, facts.count)
        // The whole batch replayed, then again in small batches, each also holding its facts twice.
        XCTAssertEqual(try db.transaction { try store.ingest(facts, on: $0) }, 0)
        for start in stride(from: 0, to: facts.count, by: 40) {
            let part = Array(facts[start..<min(start + 40, facts.count)])
            XCTAssertEqual(try db.transaction { try store.ingest(part + part.reversed(), on: $0) }, 0)
        }
        XCTAssertEqual(try db.count("facts"), facts.count)
        let dump = try FactStoreTests.dump(db)
        for table in expected.keys.sorted() { XCTAssertEqual(dump[table], expected[table], table) }

        // New facts mixed with stored ones: only the new are stored and counted.
        let reports = ReportStore(database: db, days: BankDays(timeZone: TimeZone(identifier: "Asia/Shanghai")!))
        let sentBefore = try reports.funnel(canvasId: "cvs_a", orgPath: "/hq/").nodes.reduce(0) { $0 + $1.sent }
        let fresh = FactStoreTests.journeys(seed: 6, customers: 20)
            .filter { $0.type == MarketingFactType.messageSent.rawValue && $0.canvasId == "cvs_a" }
        XCTAssertFalse(fresh.isEmpty)
        XCTAssertEqual(try db.transaction { try store.ingest(Array(facts.prefix(30)) + fresh + fresh, on: $0) }, fresh.count)
        XCTAssertEqual(try db.count("facts"), facts.count + fresh.count)
        let funnel = try reports.funnel(canvasId: "cvs_a", orgPath: "/hq/")
        XCTAssertEqual(funnel.nodes.reduce(0) { $0 + $1.sent }, sentBefore + fresh.count)
        XCTAssertEqual(funnel.entered, facts.filter { $0.canvasId == "cvs_a" && $0.type == MarketingFactType.journeyEntered.rawValue }.count)
    }

    /// Two transactions storing the same facts at the same time: one stores each, the other waits for
    /// it and skips them.
    func testConcurrentDeliveriesOfTheSameFactsCountOnce() throws {
        let facts = FactStoreTests.journeys(seed: 9, customers: 120)
        let expected = try reference(facts)
        let db = try data.make()
        let store = self.store
        let errors = ErrorBox()
        let stored = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            // Every worker brings every fact, in its own order and batches.
            let mine = worker % 2 == 0 ? facts : facts.reversed()
            for start in stride(from: 0, to: mine.count, by: 25) {
                do {
                    let n = try db.transaction { try store.ingest(Array(mine[start..<min(start + 25, mine.count)]), on: $0) }
                    stored.add(n)
                } catch { errors.add(error) }
            }
        }
        XCTAssertEqual(errors.all.map { String(describing: $0) }, [])
        XCTAssertEqual(stored.value, facts.count)
        XCTAssertEqual(try db.count("facts"), facts.count)
        let dump = try FactStoreTests.dump(db)
        for table in expected.keys.sorted() { XCTAssertEqual(dump[table], expected[table], table) }
    }
}

/// A sum from worker threads. Thread-safety: `lock` guards `total`.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    func add(_ n: Int) { lock.lock(); total += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return total }
}
