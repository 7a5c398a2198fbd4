@testable import Analytics
import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// The store on a real PostgreSQL in a fresh schema: rollups equal a naive count over the same facts,
/// whatever the order, batching and concurrency of their arrival; partitions; rollback.
final class FactStoreTests: XCTestCase {
    let database = AnalyticsTestDatabase()

    override func tearDown() { database.dropAll() }

    func makeDatabase() throws -> PostgresPool { try database.make() }

    let store = FactStore(timeZone: "Asia/Shanghai")

    /// A small bank's journeys: entries with arms (some customers convert before their entry arrives),
    /// node visits, messages with outcomes and suppressions, rewards, behaviour and lifecycle events.
    static func journeys(seed: UInt64, customers: Int) -> [Fact] {
        var rng = SplitMix64(seed: seed)
        var facts: [Fact] = []
        let base = Date(timeIntervalSince1970: 1_796_000_000)
        func fact(_ type: MarketingFactType, _ customer: Int, _ f: MarketingFact, _ offset: Double) -> Fact {
            Fact(eventId: UUID(), type: type, occurredAt: base.addingTimeInterval(offset), fact: f)
        }
        for c in 0..<customers {
            let canvas = c % 3 == 0 ? "cvs_b" : "cvs_a"
            let org = c % 2 == 0 ? "/hq/sh/" : "/hq/bj/"
            let id = "c\(c)"
            let arm = ["control", "A", "B"][Int(rng.next() % 3)]
            let share = arm == "control" ? 0.1 : 0.45
            let t = Double(rng.next() % 200_000)
            facts.append(fact(.journeyEntered, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: "n1", arm: arm,
                                                                 plannedShare: share), t))
            for (i, node) in ["n1", "n2", "n3"].enumerated() where rng.next() % 4 != 0 || i == 0 {
                facts.append(fact(.nodeReached, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: node, nodeType: "send"),
                                  t + Double(i)))
                if rng.next() % 5 == 0 {
                    facts.append(fact(.messageSuppressed, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: node,
                                                                           channel: "sms", reason: ["quiet_hours", "blacklisted"][Int(rng.next() % 2)]),
                                      t + Double(i)))
                    continue
                }
                facts.append(fact(.messageSent, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: node, channel: "sms",
                                                                 cost: "0.05"), t + Double(i)))
                if rng.next() % 10 != 0 {
                    facts.append(fact(.messageDelivered, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: node, channel: "sms"),
                                      t + Double(i)))
                    if rng.next() % 3 == 0 {
                        facts.append(fact(.messageClicked, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: node,
                                                                            channel: "sms"), t + Double(i)))
                    }
                }
            }
            if rng.next() % (arm == "B" ? 3 : 5) == 0 {
                // Converting sometimes arrives before the entry (out-of-order delivery), and is delivered twice as
                // two facts of the same customer on a re-entry: a customer converts once in the experiment.
                let at = rng.next() % 4 == 0 ? t - 5 : t + 10
                facts.append(fact(.journeyConverted, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: "n3", amount: "100.50"), at))
                if rng.next() % 6 == 0 {
                    facts.append(fact(.journeyConverted, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, nodeId: "n3", amount: "1.00"),
                                      at + 3))
                }
                facts.append(fact(.rewardGranted, c, MarketingFact(customerId: id, orgPath: org, canvasId: canvas, rewardId: "rw_1",
                                                                   rewardKind: "coupon", cost: "5.00"), at + 1))
            }
        }
        var lifecycle = Fact(eventId: UUID(), type: FactDecoder.lifecycleChangedType, occurredAt: base, customerId: "c1", orgPath: "/hq/bj/")
        lifecycle.toStage = "new"
        facts.append(lifecycle)
        var event = Fact(eventId: UUID(), type: FactDecoder.behaviourEventType, occurredAt: base, customerId: "c2", orgPath: "/hq/sh/")
        event.eventName = "app_login"
        event.propertiesJSON = #"{"device":"ios"}"#
        facts.append(event)
        var shuffled = facts
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
            shuffled.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        return shuffled
    }

    /// Each rollup table with its key (the primary key without `shard`).
    static let rollupTables: [(table: String, key: [String])] = [
        ("canvas_nodes", ["canvas_id", "node_id", "org_path"]), ("canvas_suppressions", ["canvas_id", "node_id", "org_path", "reason"]),
        ("canvas_totals", ["canvas_id", "org_path"]), ("experiment_arms", ["canvas_id", "canvas_version", "arm", "org_path"]),
        ("experiment_plans", ["canvas_id", "canvas_version", "arm"]), ("experiment_members", ["canvas_id", "customer_id"]),
        ("channel_daily", ["day", "channel", "org_path"]), ("reward_daily", ["day", "reward_id", "org_path"]),
        ("lifecycle_daily", ["day", "org_path", "from_stage", "to_stage"]), ("activity_daily", ["day", "org_path", "canvas_id"]),
        ("event_daily", ["day", "org_path", "event_name"]),
    ]

    /// Every rollup table with its shards summed: key → the other columns (numbers summed, rounded to
    /// 1e-6; text kept). `seen_at` is left out (the latest entry's time is not order-independent when
    /// two entries tie; the share is).
    static func dump(_ db: PostgresPool) throws -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        for (table, key) in Self.rollupTables {
            var rows: [String: [String: JSONValue]] = [:]
            for row in try db.query("SELECT (to_jsonb(t) - 'shard' - 'seen_at')::text AS row FROM \(table) t") {
                guard case .object(let o) = try JSONDecoder().decode(JSONValue.self, from: Data(try row.decode("row", as: String.self).utf8)) else { continue }
                let k = key.map { o[$0]?.stringValue ?? "" }.joined(separator: "|")
                var merged = rows[k] ?? [:]
                for (name, value) in o where !key.contains(name) {
                    // Text is kept from any shard that has it (as the reports' max() does): a shard row made by a
                    // message fact has no node type until a node visit lands in the same shard.
                    if case .number(let n) = value, case .number(let m)? = merged[name] {
                        merged[name] = .number(n + m)
                    } else if value != .null || merged[name] == nil {
                        merged[name] = value
                    }
                }
                rows[k] = merged
            }
            out[table] = rows.mapValues { o in
                o.keys.sorted().map { name -> String in
                    if case .number(let n)? = o[name] { return "\(name)=\((n * 1e6).rounded() / 1e6)" }
                    return "\(name)=\(o[name].map { String(describing: $0) } ?? "null")"
                }.joined(separator: ",")
            }
        }
        return out
    }

    func testRollupsAreTheSameForOneBatchAndForConcurrentSingleFacts() throws {
        let facts = Self.journeys(seed: 7, customers: 400)
        let bulk = try makeDatabase(), single = try makeDatabase()
        // One shard for the batch; the concurrent single facts spread over eight.
        try bulk.transaction { try FactStore(timeZone: "Asia/Shanghai", rollupShards: 1).ingest(facts, on: $0) }
        let store = self.store
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for (i, fact) in facts.enumerated() where i % 4 == worker {
                do { try single.transaction { try store.ingest([fact], on: $0) } } catch { errors.add(error) }
            }
        }
        XCTAssertEqual(errors.all.map { String(describing: $0) }, [])
        let a = try Self.dump(bulk), b = try Self.dump(single)
        XCTAssertGreaterThan(try single.query("SELECT count(DISTINCT shard)::bigint AS n FROM canvas_totals")[0].decode("n", as: Int.self), 1)
        for table in a.keys.sorted() {
            XCTAssertEqual(a[table], b[table], table)
            XCTAssertFalse(a[table, default: [:]].isEmpty, "\(table) holds rows")
        }
        XCTAssertEqual(try bulk.query("SELECT count(*)::bigint AS n FROM facts")[0].decode("n", as: Int.self), facts.count)
    }

    func testRollupsEqualANaiveCountOfTheFacts() throws {
        let facts = Self.journeys(seed: 11, customers: 600)
        let db = try makeDatabase()
        for start in stride(from: 0, to: facts.count, by: 97) {
            try db.transaction { try store.ingest(Array(facts[start..<min(start + 97, facts.count)]), on: $0) }
        }
        let reports = ReportStore(database: db, days: BankDays(timeZone: TimeZone(identifier: "Asia/Shanghai")!))

        // The funnel, counted here from the facts themselves.
        let funnel = try reports.funnel(canvasId: "cvs_a", orgPath: "/hq/")
        let mine = facts.filter { $0.canvasId == "cvs_a" }
        for node in funnel.nodes {
            let at = mine.filter { $0.nodeId == node.nodeId }
            XCTAssertEqual(node.reached, at.filter { $0.type == "canvas.node_reached" }.count, node.nodeId)
            XCTAssertEqual(node.sent, at.filter { $0.type == "dispatch.message_sent" }.count, node.nodeId)
            XCTAssertEqual(node.delivered, at.filter { $0.type == "dispatch.message_delivered" }.count, node.nodeId)
            XCTAssertEqual(node.clicked, at.filter { $0.type == "dispatch.message_clicked" }.count, node.nodeId)
            XCTAssertEqual(node.suppressed, at.filter { $0.type == "dispatch.message_suppressed" }.count, node.nodeId)
            XCTAssertEqual(node.suppressedByReason.values.reduce(0, +), node.suppressed, node.nodeId)
            XCTAssertEqual(node.converted, at.filter { $0.type == "canvas.journey_converted" }.count, node.nodeId)
        }
        XCTAssertEqual(Set(funnel.nodes.map(\.nodeId)), ["n1", "n2", "n3"])
        XCTAssertEqual(funnel.entered, mine.filter { $0.type == "canvas.journey_entered" }.count)

        // Experiments: customers per arm, each converting once, whatever the arrival order.
        let experiment = try reports.experiments(canvasId: "cvs_a", orgPath: "/hq/")
        let entries = mine.filter { $0.type == "canvas.journey_entered" }
        let converters = Set(mine.filter { $0.type == "canvas.journey_converted" }.map(\.customerId))
        XCTAssertEqual(experiment.baseline, "control")
        for arm in experiment.arms {
            let members = entries.filter { $0.arm == arm.arm }.map(\.customerId)
            XCTAssertEqual(arm.customers, members.count, arm.arm)
            XCTAssertEqual(arm.conversions, members.filter(converters.contains).count, arm.arm)
            XCTAssertEqual(arm.plannedShare, arm.arm == "control" ? 0.1 : 0.45)
        }
        XCTAssertEqual(experiment.arms.map(\.arm), ["A", "B", "control"])
        XCTAssertNotEqual(experiment.sampleRatio.outcome, .planUnknown)

        // Org scope: the Beijing branch sees only its own half.
        let bj = try reports.funnel(canvasId: "cvs_a", orgPath: "/hq/bj/")
        XCTAssertEqual(bj.entered, entries.filter { $0.orgPath == "/hq/bj/" }.count)
        XCTAssertEqual(try reports.funnel(canvasId: "cvs_a", orgPath: "/hq/gz/").nodes, [])

        // Channels and rewards.
        let channels = try reports.channels(try ReportQuery(query: .init("from=2026-01-01&to=2026-12-31"),
                                                            caller: CallerIdentity(userId: "u", orgId: "hq", orgPath: "/hq/", roles: [], rights: []),
                                                            calendar: reports.days, allowed: ReportRoutes.ranged))
        XCTAssertEqual(channels.channels.map(\.channel), ["sms"])
        XCTAssertEqual(channels.channels[0].sent, facts.filter { $0.type == "dispatch.message_sent" }.count)
        XCTAssertEqual(Ratio.decimal(channels.channels[0].cost), Decimal(channels.channels[0].sent) * Ratio.decimal("0.05"))
        let roi = try reports.rewards(try ReportQuery(query: .init(""), caller: CallerIdentity(userId: "u", orgId: "hq", orgPath: "/hq/",
                                                                                               roles: [], rights: []),
                                                      calendar: reports.days, allowed: ReportRoutes.ranged), by: .canvas)
        let a = try XCTUnwrap(roi.canvases?.first { $0.canvasId == "cvs_a" })
        let amount = mine.filter { $0.type == "canvas.journey_converted" }.reduce(Decimal(0)) { $0 + Ratio.decimal($1.amount ?? "0") }
        XCTAssertEqual(Ratio.decimal(a.convertedAmount), amount)
        let cost = mine.reduce(Decimal(0)) { $0 + Ratio.decimal($1.cost ?? "0") }
        XCTAssertEqual(Ratio.decimal(a.totalCost), cost)
        XCTAssertEqual(try XCTUnwrap(a.roi), NSDecimalNumber(decimal: (amount - cost) / cost).doubleValue, accuracy: 1e-9)
    }

    func testAFailedBatchLeavesNothing() throws {
        let db = try makeDatabase()
        struct Boom: Error {}
        let facts = Self.journeys(seed: 3, customers: 20)
        XCTAssertThrowsError(try db.transaction { conn in
            try store.ingest(facts, on: conn)
            throw Boom()
        })
        // The same session (a pool of connections) starts clean: nothing staged survives the rollback.
        try db.transaction { try store.ingest(Array(facts.prefix(1)), on: $0) }
        XCTAssertEqual(try db.query("SELECT count(*)::bigint AS n FROM facts")[0].decode("n", as: Int.self), 1)
        let rolled = try Self.dump(db).values.reduce(0) { $0 + $1.count }
        XCTAssertGreaterThan(rolled, 0)
        XCTAssertLessThanOrEqual(rolled, 8, "only the one fact's rollup rows")
    }

    func testPartitionsAreMadeAheadAndTakeOverRowsFromTheDefault() throws {
        let db = try makeDatabase()
        let day = Date(timeIntervalSince1970: 1_796_230_800)   // 2026-12-03 01:00 in Shanghai
        var early = Fact(eventId: UUID(), type: FactDecoder.behaviourEventType, occurredAt: day, customerId: "c1", orgPath: "/hq/")
        early.eventName = "app_login"
        // Ingested when its day was beyond the store's reach (a far future fact): it waits in the default partition.
        let store = FactStore(timeZone: "Asia/Shanghai", partitionReach: 0)
        try db.transaction { try store.ingest([early], on: $0, now: day.addingTimeInterval(-30 * 86_400)) }
        XCTAssertEqual(try db.query("SELECT count(*)::bigint AS n FROM facts_default")[0].decode("n", as: Int.self), 1)
        let created = try db.transaction { try store.ensurePartitions(from: day.addingTimeInterval(-86_400), through: day.addingTimeInterval(2 * 86_400), on: $0) }
        XCTAssertEqual(created, 4)
        XCTAssertEqual(try db.withConnection { try store.partitions(on: $0) },
                       ["facts_20261202", "facts_20261203", "facts_20261204", "facts_20261205", "facts_default"])
        XCTAssertEqual(try db.query("SELECT count(*)::bigint AS n FROM facts_default")[0].decode("n", as: Int.self), 0)
        XCTAssertEqual(try db.query("SELECT count(*)::bigint AS n FROM facts_20261203")[0].decode("n", as: Int.self), 1)
        XCTAssertEqual(try db.transaction { try store.ensurePartitions(from: day, through: day, on: $0) }, 0, "idempotent")
        // Local midnight is the bound: 2026-12-03 23:30 in Shanghai is still the 3rd.
        var late = early
        late.eventId = UUID()
        late.occurredAt = Date(timeIntervalSince1970: 1_796_311_800)
        try db.transaction { try store.ingest([late], on: $0, now: day) }
        XCTAssertEqual(try db.query("SELECT count(*)::bigint AS n FROM facts_20261203")[0].decode("n", as: Int.self), 2)
    }
}

/// Errors gathered from worker threads. Thread-safety: `lock` guards `errors`.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [any Error] = []
    func add(_ e: any Error) { lock.lock(); errors.append(e); lock.unlock() }
    var all: [any Error] { lock.lock(); defer { lock.unlock() }; return errors }
}
