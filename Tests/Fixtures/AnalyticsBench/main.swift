// The analytics benchmark's load: synthetic journeys of a bank (entries with A/B arms and a control
// group, node visits, messages and their outcomes, conversions with amounts, rewards) either
// bulk-loaded through the store (FactStore: COPY into staging, the same rollup upserts as the inbox
// path) or posted to the inbox route, one event per request or in NDJSON batches as the outbox relay sends them.
//   AnalyticsBench load <facts>                      DATABASE_URL, LATTICE_DB_SCHEMA
//   AnalyticsBench http <url> <events> <threads> <internal secret> [batch]
import Analytics
import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("AnalyticsBench: " + message + "\n").utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let count = Int(arguments[arguments[1] == "http" ? 3 : 2]) else {
    fail("usage: AnalyticsBench load <facts> | http <url> <events> <threads> <secret>")
}

/// Journeys made one at a time into facts, deterministic by seed. Canvas `cvs_bench_00` is the one the
/// benchmark reports on; twenty canvases share the load, owned by three branches.
struct JourneyGenerator {
    var rng = SplitMix64(seed: 20261202)
    var journey = 0
    let now = Date()
    static let orgs = ["/hq/sh/", "/hq/bj/", "/hq/gz/"]
    static let reasons = ["quiet_hours", "frequency_cap:sms:day", "no_consent:sms", "blacklisted", "marketing_opt_out"]

    mutating func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }

    mutating func next() -> [Fact] {
        defer { journey += 1 }
        let canvasIndex = journey % 20
        let canvas = String(format: "cvs_bench_%02d", canvasIndex)
        let org = Self.orgs[canvasIndex % 3]
        let customer = "c\(journey)"
        let roll = rng.next() % 100
        let arm = roll < 10 ? "control" : (roll < 55 ? "A" : "B")
        let share = arm == "control" ? 0.1 : 0.45
        var t = now.addingTimeInterval(-Double(rng.next() % (30 * 86_400)))
        var facts: [Fact] = []
        func add(_ type: MarketingFactType, _ f: MarketingFact) {
            facts.append(Fact(eventId: UUID(), type: type, occurredAt: t, fact: f))
            t.addTimeInterval(1)
        }
        add(.journeyEntered, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, canvasVersion: 1, nodeId: "n1", arm: arm,
                                           plannedShare: share))
        if arm != "control" {
            for (i, node) in ["n1", "n2", "n3", "n4"].enumerated() {
                if i > 0 && !chance(80) { break }
                add(.nodeReached, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, nodeId: node, nodeType: "send"))
                if chance(5) {
                    add(.messageSuppressed, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, nodeId: node, channel: "sms",
                                                          reason: Self.reasons[Int(rng.next() % 5)]))
                    continue
                }
                let channel = i % 2 == 0 ? "sms" : "push"
                add(.messageSent, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, nodeId: node, channel: channel,
                                                cost: channel == "sms" ? "0.05" : "0.00"))
                if chance(92) {
                    add(.messageDelivered, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, nodeId: node, channel: channel))
                    if chance(15) {
                        add(.messageClicked, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, nodeId: node, channel: channel))
                    }
                }
            }
        }
        if chance(arm == "control" ? 8 : (arm == "A" ? 10 : 12)) {
            add(.journeyConverted, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, nodeId: arm == "control" ? "n1" : "n2",
                                                 amount: "\(1000 + rng.next() % 9000).00"))
            if arm != "control" && chance(50) {
                add(.rewardGranted, MarketingFact(customerId: customer, orgPath: org, canvasId: canvas, rewardId: "rw_cash10", rewardKind: "coupon",
                                                  cost: "10.00"))
            }
        }
        return facts
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

switch arguments[1] {
case "load":
    let env = ProcessInfo.processInfo.environment
    guard let url = env["DATABASE_URL"], var config = try? PostgresConfiguration(url: url) else { fail("DATABASE_URL is required") }
    config.searchPath = [env["LATTICE_DB_SCHEMA"] ?? "analytics"]
    config.statementTimeout = nil
    let pool = PostgresPool(configuration: config)
    let store = FactStore(timeZone: env["LATTICE_TIMEZONE"] ?? "Asia/Shanghai")
    do {
        try pool.transaction { try store.ensurePartitions(from: Date().addingTimeInterval(-31 * 86_400), through: Date().addingTimeInterval(7 * 86_400), on: $0) }
        var generator = JourneyGenerator()
        var loaded = 0
        let batchSize = Int(ProcessInfo.processInfo.environment["BENCH_BATCH"] ?? "") ?? 10_000
        let started = now()
        var batch: [Fact] = []
        batch.reserveCapacity(batchSize + 20)
        while loaded < count {
            batch.removeAll(keepingCapacity: true)
            while batch.count < min(batchSize, count - loaded) { batch += generator.next() }
            if batch.count > count - loaded { batch.removeLast(batch.count - (count - loaded)) }
            try pool.transaction { try store.ingest(batch, on: $0) }
            loaded += batch.count
            if loaded % 1_000_000 < batchSize {
                FileHandle.standardError.write(Data("AnalyticsBench: \(loaded) facts loaded (\(Int(now() - started)) s)\n".utf8))
            }
        }
        let seconds = now() - started
        print("BENCH analytics_bulk_load_facts \(loaded) facts")
        print(String(format: "BENCH analytics_bulk_load_facts_per_s %.0f facts/s", Double(loaded) / seconds))
    } catch {
        fail("load failed: \(error)")
    }
case "http":
    // One event a request (a service's own single POST) or, with a batch size, NDJSON batches as the
    // outbox relay sends them.
    guard arguments.count >= 6, let threads = Int(arguments[4]), threads >= 1 else {
        fail("usage: http <url> <events> <threads> <secret> [batch]")
    }
    let url = arguments[2], secret = arguments[5]
    let batch = arguments.count > 6 ? max(Int(arguments[6]) ?? 1, 1) : 1
    var configuration = HTTPClient.Configuration()
    configuration.retry = .none
    let client = HTTPClient(configuration: configuration)
    final class Tally: @unchecked Sendable {   // Thread-safety: `lock` guards `failures`.
        let lock = NSLock()
        var failures: [String] = []
        func fail(_ s: String) { lock.lock(); if failures.count < 5 { failures.append(s) }; lock.unlock() }
    }
    let tally = Tally()
    let envelope: @Sendable (Int) -> (id: String, body: String) = { i in
        let id = UUID().uuidString.lowercased()
        let fact = MarketingFact(customerId: "h\(i)", orgPath: "/hq/sh/", canvasId: "cvs_http", nodeId: "n\(i % 4 + 1)", channel: "sms",
                                 cost: "0.05")
        let payload = String(decoding: (try? JSONCoding.encoder().encode(fact)) ?? Data(), as: UTF8.self)
        return (id, #"{"id":"\#(id)","type":"dispatch.message_sent","occurredAt":"\#(JSONCoding.formatDate(Date()))","payload":\#(payload)}"#)
    }
    let requests = (count + batch - 1) / batch
    let started = now()
    DispatchQueue.concurrentPerform(iterations: threads) { worker in
        for r in stride(from: worker, to: requests, by: threads) {
            let events = (r * batch..<min((r + 1) * batch, count)).map(envelope)
            var request = HTTPClientRequest(method: "POST", url: url)
            request.headers.add(InternalHeader.credential, secret)
            if batch == 1 {
                request.headers.add("content-type", "application/json")
                request.headers.add("x-lattice-event-id", events[0].id)
                request.body = Array(events[0].body.utf8)
            } else {
                request.headers.add("content-type", "application/x-ndjson")
                request.body = Array(events.map(\.body).joined(separator: "\n").utf8)
            }
            do {
                let answer = try client.send(request)
                if answer.status != 200 { tally.fail("\(answer.status) \(answer.bodyText)") }
                if batch > 1 {
                    let processed = answer.bodyText.components(separatedBy: #""outcome":"processed""#).count - 1
                    if processed != events.count { tally.fail("\(processed) of \(events.count) processed: \(answer.bodyText.prefix(300))") }
                }
            } catch {
                tally.fail(String(describing: error))
            }
        }
    }
    let seconds = now() - started
    if !tally.failures.isEmpty { fail("ingestion failures: \(tally.failures)") }
    let name = batch == 1 ? "analytics_http_ingest_events_per_s" : "analytics_http_batched_ingest_events_per_s"
    print(String(format: "BENCH \(name) %.0f events/s", Double(count) / seconds))
default:
    fail("unknown mode \(arguments[1])")
}
