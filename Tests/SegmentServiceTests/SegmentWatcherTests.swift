import Contracts
import Foundation
import HTTP
import Postgres
@testable import Segment
import ServiceKit
import TestSupport
import XCTest

/// The entry/exit watcher in this process, on a migrated segment schema and an index of its own: the
/// looks driven by hand, so that batches and the lease can be watched from the outside.
final class SegmentWatcherTests: XCTestCase {
    private static let timeZone = TimeZone(identifier: "Asia/Shanghai")!
    private static let shOperator = CallerIdentity(userId: "u_sh", orgId: "sh", orgPath: "/hq/sh/", roles: ["operator"],
                                                   rights: ["view", "edit"])
    private var schema = ""
    private var pool: PostgresPool!
    private let live = LiveIndex(timeZone: SegmentWatcherTests.timeZone)
    private let sink = InMemoryLogSink()

    override func setUpWithError() throws {
        let url = try TestEnvironment.databaseURL()
        schema = TestEnvironment.uniqueSchema("segment_watch")
        var config = try PostgresConfiguration(url: url)
        config.searchPath = [schema]
        try Migrator(schema: schema, migrations: SegmentMigrations.all()).migrate(configuration: config)
        pool = PostgresPool(configuration: config)
    }

    override func tearDown() {
        pool?.close()
        TestEnvironment.dropSchema(schema)
    }

    // MARK: Set-up

    /// Customers `C000`… in `/hq/sh/` with `riskLevel` chosen by `level(i)`.
    private func load(_ count: Int, level: (Int) -> String) {
        var index = CustomerIndex(timeZone: Self.timeZone)
        for i in 0..<count { index.apply(document(i, level(i))) }
        live.install(index) { $0.ready = true }
    }

    private func change(_ levels: [Int: String]) {
        live.apply(levels.sorted { $0.key < $1.key }.map { document($0.key, $0.value) }) { _ in }
    }

    private func document(_ i: Int, _ level: String) -> CustomerFactsDocument {
        CustomerFactsDocument(customerId: id(i), exists: true, orgPath: "/hq/sh/", attributes: ["riskLevel": .string(level)])
    }

    private func id(_ i: Int) -> String { "C" + String(1000 + i).dropFirst() }

    private func watcher(batchSize: Int) throws -> MembershipWatcher {
        let audiences = Audiences(live: live, evaluator: RuleEvaluator(timeZone: Self.timeZone), segments: SegmentStore(database: pool),
                                  lists: ListStore(database: pool),
                                  catalog: ProfileCatalog(client: HTTPClient(), baseURL: "http://127.0.0.1:9"))
        let transitions = MembershipTransitions(database: pool, outbox: try Outbox(schema: schema), destinations: ["canvas"])
        let watcher = MembershipWatcher(live: live, audiences: audiences, transitions: transitions,
                                        logger: Logger(service: "segment", sink: sink))
        watcher.batchSize = batchSize
        return watcher
    }

    private func dynamicSegment(_ rule: String, id: String = SegmentStore.newId()) throws -> SegmentDefinition {
        try SegmentStore(database: pool).create(id: id, name: "watched", kind: .dynamic,
                                                rule: JSONCoding.decoder().decode(JSONValue.self, from: Data(rule.utf8)),
                                                caller: Self.shOperator, memberCount: 0, members: nil)
    }

    private var generation: Int { live.shape.generation }

    /// The events in the outbox, in order: `enter C003` / `exit C004`.
    private func events() throws -> [String] {
        try pool.query("SELECT event_type, payload->>'customerId' AS customer FROM outbox_events ORDER BY seq").map {
            let type: String = try $0.decode("event_type")
            return (type == "segment_enter" ? "enter " : "exit ") + (try $0.decode("customer", as: String.self))
        }
    }

    /// How many transactions wrote the outbox's events of `type`.
    private func transactions(_ type: String) throws -> Int {
        Int(try pool.query("SELECT count(DISTINCT xmin::text)::bigint AS n FROM outbox_events WHERE event_type = $1", type)[0]
            .decode("n", as: Int64.self))
    }

    private func recorded(_ segment: SegmentDefinition) throws -> [String] {
        try MembershipTransitions(database: pool, outbox: try Outbox(schema: schema), destinations: ["canvas"])
            .recordedMembers(of: segment.id).sorted()
    }

    // MARK: Tests

    func testTransitionsCommitInBatchesOfRowsAndTheirEvents() throws {
        load(100) { $0 % 4 == 0 ? "C3" : "C1" }
        let segment = try dynamicSegment(#"{"attr":"riskLevel","op":"eq","value":"C3"}"#)
        let watcher = try watcher(batchSize: 7)
        var batches = 0
        watcher.afterBatch = { batches += 1 }

        // The first look records the 25 members silently, 7 per transaction.
        try watcher.look(at: generation)
        XCTAssertEqual(try recorded(segment), (0..<100).filter { $0 % 4 == 0 }.map(id))
        XCTAssertEqual(try events(), [])
        XCTAssertEqual(batches, 4)
        let tracked = try pool.query("SELECT tracked_at IS NOT NULL AS tracked FROM segments WHERE id = $1", segment.id)
        XCTAssertEqual(try tracked[0].decode("tracked", as: Bool.self), true)

        // 25 enter and 10 leave: 4 + 2 transactions, each with its rows and events.
        var levels: [Int: String] = [:]
        for i in 0..<100 where i % 4 == 1 { levels[i] = "C3" }
        for i in 0..<40 where i % 4 == 0 { levels[i] = "C1" }
        change(levels)
        batches = 0
        try watcher.look(at: generation)
        let expected = (0..<100).filter { $0 % 4 == 1 }.map { "enter " + id($0) } + (0..<40).filter { $0 % 4 == 0 }.map { "exit " + id($0) }
        XCTAssertEqual(try events(), expected)
        XCTAssertEqual(batches, 6)
        XCTAssertEqual(try transactions("segment_enter"), 4)
        XCTAssertEqual(try transactions("segment_exit"), 2)
        XCTAssertEqual(try recorded(segment), (0..<100).filter { $0 % 4 == 1 || ($0 % 4 == 0 && $0 >= 40) }.map(id))

        // Nothing changed: nothing written.
        batches = 0
        try watcher.look(at: generation)
        XCTAssertEqual(batches, 0)
        XCTAssertEqual(try events().count, expected.count)

        // A new watcher (a restart) compares with the records: one who changed meanwhile, nothing else.
        change([2: "C3"])
        let restarted = try self.watcher(batchSize: 7)
        watcher.transitions.releaseLease(owner: watcher.owner)
        try restarted.look(at: generation)
        XCTAssertEqual(try events(), expected + ["enter " + id(2)])
    }

    func testALostLeaseStopsRecordingAndTheNextHolderSendsTheRestOnce() throws {
        load(30) { _ in "C1" }
        let segment = try dynamicSegment(#"{"attr":"riskLevel","op":"eq","value":"C3"}"#)
        let first = try watcher(batchSize: 4)
        let second = try watcher(batchSize: 4)
        try first.look(at: generation)            // takes the lease, records the (no) members
        XCTAssertThrowsError(try second.look(at: generation)) { XCTAssertTrue($0 is MembershipTransitions.LeaseLost, "\($0)") }

        change(Dictionary(uniqueKeysWithValues: (0..<30).map { ($0, "C3") }))
        // After the first batch another replica takes the lease over (as if this look had been too slow).
        var batches = 0
        first.afterBatch = { [pool, second] in
            batches += 1
            guard batches == 1 else { return }
            try pool!.execute("UPDATE segment_watch_lease SET expires_at = now() - interval '1 second'")
            XCTAssertTrue(try second.transitions.takeLease(.init(owner: second.owner, seconds: 10)))
        }
        XCTAssertThrowsError(try first.look(at: generation)) { XCTAssertTrue($0 is MembershipTransitions.LeaseLost, "\($0)") }
        XCTAssertEqual(batches, 1)
        XCTAssertEqual(try events(), (0..<4).map { "enter " + id($0) })

        // The new holder compares with the records: the other 26, once.
        try second.look(at: generation)
        XCTAssertEqual(try events(), (0..<30).map { "enter " + id($0) })

        // The old one writes nothing more, whatever it saw.
        change([0: "C1", 1: "C1"])
        XCTAssertThrowsError(try first.look(at: generation)) { XCTAssertTrue($0 is MembershipTransitions.LeaseLost, "\($0)") }
        XCTAssertThrowsError(try first.transitions.record(segment, entered: [], exited: [id(0)], at: Date(),
                                                          lease: .init(owner: first.owner, seconds: 10))) {
            XCTAssertTrue($0 is MembershipTransitions.LeaseLost, "\($0)")
        }
        try second.look(at: generation)
        XCTAssertEqual(try events(), (0..<30).map { "enter " + id($0) } + ["exit " + id(0), "exit " + id(1)])
        XCTAssertEqual(try recorded(segment), (2..<30).map(id))
    }

    func testRecordedCustomersMissingFromANewSnapshotLeave() throws {
        load(20) { _ in "C3" }
        let segment = try dynamicSegment(#"{"attr":"riskLevel","op":"eq","value":"C3"}"#)
        let watcher = try watcher(batchSize: 3)
        try watcher.look(at: generation)
        XCTAssertEqual(try recorded(segment).count, 20)
        // A fresh snapshot without C010…C019 (removed while the feed was away): they leave, in batches.
        load(10) { _ in "C3" }
        try watcher.look(at: generation)
        XCTAssertEqual(try events(), (10..<20).map { "exit " + id($0) })
        XCTAssertEqual(try transactions("segment_exit"), 4)
        XCTAssertEqual(try recorded(segment), (0..<10).map(id))
    }

    func testABrokenSegmentDoesNotHoldUpTheOthersAndTheGlobalBlackListCounts() throws {
        load(10) { $0 < 5 ? "C3" : "C1" }
        try pool.execute("""
            INSERT INTO customer_lists (id, name, kind, is_global, org_id, org_path, created_by, size)
            VALUES ('lst_global', 'blocked', 'black', true, 'hq', '/hq/', 'u', 2)
            """)
        try pool.execute("INSERT INTO customer_list_members (list_id, customer_id) VALUES ('lst_global', $1), ('lst_global', $2)",
                         id(1), id(6))
        // Two segments naming each other (stored past the checks): neither can be evaluated.
        _ = try dynamicSegment(#"{"segment":"seg_b"}"#, id: "seg_a")
        _ = try dynamicSegment(#"{"segment":"seg_a"}"#, id: "seg_b")
        let segment = try dynamicSegment(#"{"attr":"riskLevel","op":"eq","value":"C3"}"#, id: "seg_c")
        let watcher = try watcher(batchSize: 100)
        try watcher.look(at: generation)
        XCTAssertEqual(try recorded(segment), [0, 2, 3, 4].map(id))
        XCTAssertTrue(sink.lines.contains { $0.contains("seg_a") && $0.contains("cycle") }, "\(sink.lines)")
        change([6: "C3", 7: "C3", 0: "C1"])
        try watcher.look(at: generation)
        XCTAssertEqual(try events(), ["enter " + id(7), "exit " + id(0)])
    }

    func testBatchesCoverEverySlotInOrder() throws {
        var random = SplitMix64(seed: 5)
        for _ in 0..<50 {
            let slots = Set((0..<Int(random.next() % 500)).map { _ in Int(random.next() % 3_000) }).sorted()
            let size = Int(random.next() % 20) + 1
            var seen: [Int] = []
            try MembershipWatcher.forEachBatch(of: Bitmap(slots: slots), size: size) { batch in
                XCTAssertTrue(!batch.isEmpty && batch.count <= size)
                seen += batch
            }
            XCTAssertEqual(seen, slots)
        }
    }
}
