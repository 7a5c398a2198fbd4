@testable import Analytics
import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Late and early facts get their own day's partition before they are inserted, so that nothing of a
/// day with a partition ever waits in `facts_default` and the maintenance job's creation of partitions
/// never meets rows it must move (review finding: a partition refused for the default partition's
/// rows would stop ingest).
final class FactPartitionTests: XCTestCase {
    let data = AnalyticsTestDatabase()
    let store = FactStore(timeZone: "Asia/Shanghai")
    /// 2026-12-03 10:00 in Shanghai.
    let now = Date(timeIntervalSince1970: 1_796_263_200)
    static let day: TimeInterval = 86_400

    override func tearDown() { data.dropAll() }

    func event(at date: Date, customer: String = "c1") -> Fact {
        var f = Fact(eventId: UUID(), type: FactDecoder.behaviourEventType, occurredAt: date, customerId: customer, orgPath: "/hq/sh/")
        f.eventName = "app_login"
        return f
    }

    func eventsOn(_ day: String, in db: PostgresPool) throws -> Int {
        try db.query("SELECT coalesce(sum(events), 0)::bigint AS n FROM event_daily WHERE day = $1::date", day)[0].decode("n", as: Int.self)
    }

    func testAFortyDayOldFactAndOneForTomorrowGetTheirPartitionsAndTheJobStillRuns() throws {
        let db = try data.make()
        let late = event(at: now.addingTimeInterval(-40 * Self.day)), tomorrow = event(at: now.addingTimeInterval(Self.day))
        XCTAssertEqual(try db.transaction { try store.ingest([late, tomorrow], on: $0, now: now) }, 2)
        XCTAssertEqual(try db.count("facts_default"), 0, "nothing waits in the default partition")
        XCTAssertEqual(try db.count("facts_20261024"), 1)
        XCTAssertEqual(try db.count("facts_20261204"), 1)

        // The maintenance job's run over the same days (2026-10-23 … 12-10: 49 days) makes the others.
        let created = try db.transaction {
            try store.ensurePartitions(from: now.addingTimeInterval(-41 * Self.day), through: now.addingTimeInterval(7 * Self.day), on: $0)
        }
        XCTAssertEqual(created, 47)
        XCTAssertEqual(try db.withConnection { try store.partitions(on: $0) }.count, 50, "49 days and the default")

        // Ingest goes on for both days, in their partitions, and the rollups count every fact once.
        try db.transaction { try store.ingest([event(at: late.occurredAt.addingTimeInterval(60)), event(at: tomorrow.occurredAt)], on: $0, now: now) }
        XCTAssertEqual(try db.count("facts_20261024"), 2)
        XCTAssertEqual(try db.count("facts_20261204"), 2)
        XCTAssertEqual(try db.count("facts_default"), 0)
        XCTAssertEqual(try eventsOn("2026-10-24", in: db), 2)
        XCTAssertEqual(try eventsOn("2026-12-04", in: db), 2)
    }

    /// A date beyond the store's reach (a producer's bad clock) makes no table of its own: it waits in the
    /// default partition and moves into its day's partition when that day gets one.
    func testAFactBeyondTheReachWaitsInTheDefaultAndMovesWhenItsDayComes() throws {
        let db = try data.make()
        let far = event(at: now.addingTimeInterval(3 * 365 * Self.day))   // 2029-12-02
        try db.transaction { try store.ingest([far], on: $0, now: now) }
        XCTAssertEqual(try db.count("facts_default"), 1)
        XCTAssertFalse(try db.withConnection { try store.partitions(on: $0) }.contains("facts_20291202"))

        // Its day comes within reach: the next fact of that day makes the partition, and the waiting row moves in.
        let then = far.occurredAt.addingTimeInterval(-Self.day)
        try db.transaction { try store.ingest([event(at: far.occurredAt.addingTimeInterval(120), customer: "c2")], on: $0, now: then) }
        XCTAssertEqual(try db.count("facts_default"), 0)
        XCTAssertEqual(try db.count("facts_20291202"), 2)
        XCTAssertEqual(try eventsOn("2029-12-02", in: db), 2)
    }

    /// Many transactions bringing facts of the same new days at once: each day's partition is made once,
    /// no transaction fails, no fact is lost or lands in the default partition.
    func testConcurrentLateFactsForTheSameDaysAllGoIn() throws {
        let db = try data.make()
        let store = self.store, now = self.now
        let days = [-40.0, -39, -2].map { now.addingTimeInterval($0 * Self.day) }
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            for i in 0..<15 {
                var f = Fact(eventId: UUID(), type: FactDecoder.behaviourEventType, occurredAt: days[(worker + i) % 3].addingTimeInterval(Double(i)),
                             customerId: "c\(worker)-\(i)", orgPath: "/hq/")
                f.eventName = "app_login"
                do { try db.transaction { try store.ingest([f], on: $0, now: now) } } catch { errors.add(error) }
            }
        }
        XCTAssertEqual(errors.all.map { String(describing: $0) }, [])
        XCTAssertEqual(try db.count("facts"), 90)
        XCTAssertEqual(try db.count("facts_default"), 0)
        XCTAssertEqual(try db.withConnection { try store.partitions(on: $0) }, ["facts_20261024", "facts_20261025", "facts_20261201", "facts_default"])
        XCTAssertEqual(try eventsOn("2026-10-24", in: db) + eventsOn("2026-10-25", in: db) + eventsOn("2026-12-01", in: db), 90)
    }

    /// The days of a batch are found per quarter hour: right across local midnight, and in a zone whose
    /// offset is not a whole hour (Kathmandu, UTC+5:45).
    func testTheDaysOfABatchFollowTheBankCalendarAtMidnight() throws {
        for zone in ["Asia/Shanghai", "Asia/Kathmandu", "America/New_York"] {
            let partitions = FactPartitions(timeZone: zone, reach: 10)
            let calendar = BankDays(timeZone: try XCTUnwrap(TimeZone(identifier: zone)))
            for minute in stride(from: 0, to: 48 * 60, by: 7) {
                let at = now.addingTimeInterval(Double(minute * 60))
                XCTAssertEqual(partitions.days(of: [event(at: at)], now: now), [calendar.day(of: at)], "\(zone) +\(minute) min")
            }
            let batch = (0..<200).map { event(at: now.addingTimeInterval(Double($0) * 1_800)) }
            XCTAssertEqual(partitions.days(of: batch, now: now), Set(batch.map { calendar.day(of: $0.occurredAt) }).sorted(), zone)
        }
        let near = FactPartitions(timeZone: "Asia/Shanghai", reach: 1)
        XCTAssertEqual(near.days(of: [-2.0, -1, 0, 1, 2].map { event(at: now.addingTimeInterval($0 * Self.day)) }, now: now),
                       ["2026-12-02", "2026-12-03", "2026-12-04"])
    }
}
