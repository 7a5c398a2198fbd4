// A provider simulator that behaves like an SMS/push gateway, for tests, `scripts/run` and benchmarks:
// configurable latency, failure rate (5xx), rejections (4xx) and timeouts; de-duplication by
// Idempotency-Key with a count of duplicates; delivery receipts posted back asynchronously; a query
// API under /control for tests.
//
//   POST /send                   a message (any POST path outside /control); needs Idempotency-Key
//   POST /send {"messages":[…]}  a batch submission: each message with its idempotencyKey, answered
//                                {"results": [{idempotencyKey, status: accepted|rejected, id}]}
//   GET  /control/stats          {received, calls, accepted, duplicates, duplicateKeys, receiptsPosted, ...}
//   GET  /control/messages?key=  what was accepted (all, or one key), with the count received
//   PUT  /control/config         change latencyMs, failureRate, rejectRate, timeoutRate, timeoutMs,
//                                receiptUrl, receiptSecret, receiptDelayMs, receiptFailureRate,
//                                receiptTargets {channel: {url, secret}}
//   POST /control/reply          {customerId | phone, text}: an SMS reply posted back at once
//   POST /control/reset          forget everything received
//
// Environment: SIM_PORT (default 8090), SIM_WORKERS (64), SIM_EXPECTED_KEYS (room for that many keys
// up front), and SIM_<NAME> for each config member in
// upper snake case (SIM_LATENCY_MS, SIM_FAILURE_RATE, SIM_RECEIPT_URL, …).
import Contracts
import Foundation
import HTTP

/// What the simulator does with a send; changed at run time through PUT /control/config.
struct SimulatorConfig: Codable, Sendable {
    var latencyMs = 5
    var failureRate = 0.0
    var rejectRate = 0.0
    /// Fraction of sends accepted but answered only after `timeoutMs` (the caller times out first).
    var timeoutRate = 0.0
    var timeoutMs = 30_000
    var receiptUrl: String?
    var receiptSecret: String?
    var receiptDelayMs = 50
    /// Fraction of receipts that report `failed`.
    var receiptFailureRate = 0.0
    /// Per channel (the `channel` of the sent message): where its receipts go and with which secret,
    /// when one simulator stands in for several providers. Others use receiptUrl/receiptSecret.
    var receiptTargets: [String: ReceiptTarget] = [:]

    struct ReceiptTarget: Codable, Sendable {
        var url: String
        var secret: String?
    }

    static func fromEnvironment() -> SimulatorConfig {
        let env = ProcessInfo.processInfo.environment
        var c = SimulatorConfig()
        func int(_ name: String) -> Int? { env[name].flatMap(Int.init) }
        func double(_ name: String) -> Double? { env[name].flatMap(Double.init) }
        c.latencyMs = int("SIM_LATENCY_MS") ?? c.latencyMs
        c.failureRate = double("SIM_FAILURE_RATE") ?? c.failureRate
        c.rejectRate = double("SIM_REJECT_RATE") ?? c.rejectRate
        c.timeoutRate = double("SIM_TIMEOUT_RATE") ?? c.timeoutRate
        c.timeoutMs = int("SIM_TIMEOUT_MS") ?? c.timeoutMs
        c.receiptUrl = env["SIM_RECEIPT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        c.receiptSecret = env["SIM_RECEIPT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        c.receiptDelayMs = int("SIM_RECEIPT_DELAY_MS") ?? c.receiptDelayMs
        c.receiptFailureRate = double("SIM_RECEIPT_FAILURE_RATE") ?? c.receiptFailureRate
        return c
    }
}

/// One accepted message and how often its key arrived.
struct Received: Codable, Sendable {
    var key: String
    var count: Int
    var providerId: String
    var messageId: String?
    var customerId: String?
    var to: String?
    var body: String?
    var receivedAt: Date
}

/// The simulator's state. Thread-safety: `lock` guards every member; handlers run on many threads.
final class Simulator: @unchecked Sendable {
    private let lock = NSLock()
    private var config: SimulatorConfig
    private var byKey: [String: Received] = [:]
    private var received = 0
    /// Send requests (a batch submission is one).
    private var calls = 0
    /// Keys received more than once, and the repeats in all (kept as they happen: stats stay cheap
    /// with a million keys while a bench polls them).
    private var duplicateKeys = 0
    private var duplicates = 0
    private var failed = 0
    private var rejected = 0
    private var timedOut = 0
    private var pendingReceipts = ReceiptQueue()
    private var receiptsPosted = 0
    private var receiptErrors = 0
    private let client: HTTPClient
    private let wake = DispatchSemaphore(value: 0)

    /// `expectedKeys`: room made up front, so that a bench's millionth key does not stall every send
    /// while the table grows (SIM_EXPECTED_KEYS).
    init(config: SimulatorConfig, expectedKeys: Int = 0) {
        self.config = config
        byKey.reserveCapacity(expectedKeys)
        var c = HTTPClient.Configuration()
        c.retry = .none
        client = HTTPClient(configuration: c)
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    var currentConfig: SimulatorConfig { withLock { config } }

    func update(_ change: (inout SimulatorConfig) -> Void) -> SimulatorConfig { withLock { change(&config); return config } }

    func reset() {
        withLock {
            byKey.removeAll(keepingCapacity: true)
            received = 0; calls = 0; duplicateKeys = 0; duplicates = 0; failed = 0; rejected = 0; timedOut = 0
            pendingReceipts = ReceiptQueue()
            receiptsPosted = 0; receiptErrors = 0
        }
    }

    func send(_ request: Request) throws -> Response {
        let c = withLock { calls += 1; return config }
        let body = (try? JSONParser.parse(request.body.bytes)) ?? .null
        if case .array(let items)? = body["messages"] { return try sendBatch(items, config: c) }
        guard let key = request.headers.first("idempotency-key"), !key.isEmpty else {
            return try .json(["error": ["code": "idempotency_key_required", "message": "send Idempotency-Key"]], status: 400)
        }
        if c.latencyMs > 0 { Thread.sleep(forTimeInterval: Double(c.latencyMs) / 1000) }
        let roll = Double.random(in: 0..<1)
        if roll < c.rejectRate {
            withLock { received += 1; rejected += 1 }
            return try .json(["error": ["code": "invalid_recipient", "message": "rejected by the simulator"]], status: 400)
        }
        if let failure = try transportFailure(roll - c.rejectRate, count: 1, config: c) { return failure }
        let hang = roll < c.rejectRate + c.failureRate + c.timeoutRate
        let (record, duplicate) = accept(key: key, body: body, config: c, timingOut: hang)
        // Accepted, but the answer comes too late: the caller times out and will send again.
        if hang { Thread.sleep(forTimeInterval: Double(c.timeoutMs) / 1000) }
        return try .json(["id": record.providerId, "duplicate": duplicate ? "true" : "false"])
    }

    /// A batch submission `{"messages": [{idempotencyKey, ...}]}`: one latency for the call; failures and
    /// timeouts hit the whole call, rejections single messages; answered with a result per message.
    private func sendBatch(_ items: [JSONValue], config c: SimulatorConfig) throws -> Response {
        guard !items.isEmpty, items.count <= 1_000,
              items.allSatisfy({ !($0["idempotencyKey"]?.stringValue ?? "").isEmpty }) else {
            return try .json(["error": ["code": "invalid_batch", "message": "1 to 1000 messages, each with an idempotencyKey"]], status: 400)
        }
        if c.latencyMs > 0 { Thread.sleep(forTimeInterval: Double(c.latencyMs) / 1000) }
        if let failure = try transportFailure(Double.random(in: 0..<1), count: items.count, config: c) { return failure }
        let hang = Double.random(in: 0..<1) < c.timeoutRate
        var results: [JSONValue] = []
        for item in items {
            let key = item["idempotencyKey"]!.stringValue!
            if Double.random(in: 0..<1) < c.rejectRate {
                withLock { received += 1; rejected += 1 }
                results.append(.object(["idempotencyKey": .string(key), "status": .string("rejected"), "error": .string("invalid_recipient")]))
                continue
            }
            let (record, duplicate) = accept(key: key, body: item, config: c, timingOut: hang)
            results.append(.object(["idempotencyKey": .string(key), "status": .string("accepted"), "id": .string(record.providerId),
                                    "duplicate": .bool(duplicate)]))
        }
        if hang { Thread.sleep(forTimeInterval: Double(c.timeoutMs) / 1000) }
        return try .json(["results": JSONValue.array(results)])
    }

    /// A 503 for the whole call when `roll` falls within the failure rate (counting `count` messages).
    private func transportFailure(_ roll: Double, count: Int, config c: SimulatorConfig) throws -> Response? {
        guard roll < c.failureRate else { return nil }
        withLock { received += count; failed += count }
        return try .json(["error": ["code": "unavailable", "message": "simulated failure"]], status: 503)
    }

    /// Records one message by its key (a key seen before counts a duplicate) and queues its receipt.
    private func accept(key: String, body: JSONValue, config c: SimulatorConfig, timingOut: Bool) -> (Received, duplicate: Bool) {
        let (record, duplicate) = withLock { () -> (Received, Bool) in
            received += 1
            if timingOut { timedOut += 1 }
            if var known = byKey[key] {
                known.count += 1
                byKey[key] = known
                duplicates += 1
                if known.count == 2 { duplicateKeys += 1 }
                return (known, true)
            }
            let r = Received(key: key, count: 1, providerId: "sim_" + UUID().uuidString.lowercased().prefix(12),
                             messageId: body["messageId"]?.stringValue, customerId: body["customerId"]?.stringValue,
                             to: body["to"]?.stringValue, body: body["body"]?.stringValue, receivedAt: Date())
            byKey[key] = r
            return (r, false)
        }
        let channel = body["channel"]?.stringValue ?? ""
        let target = c.receiptTargets[channel] ?? c.receiptUrl.map { SimulatorConfig.ReceiptTarget(url: $0, secret: c.receiptSecret) }
        if !duplicate, let target {
            let status = Double.random(in: 0..<1) < c.receiptFailureRate ? "failed" : "delivered"
            var receipt: [String: JSONValue] = ["idempotencyKey": .string(key), "status": .string(status)]
            if let id = record.messageId { receipt["messageId"] = .string(id) }
            if status == "failed" { receipt["error"] = .string("simulated_undeliverable") }
            queueCallback(.object(["receipts": .array([.object(receipt)])]), delayMs: c.receiptDelayMs, target: target)
        }
        return (record, duplicate)
    }

    func queueCallback(_ body: JSONValue, delayMs: Int, target: SimulatorConfig.ReceiptTarget?) {
        withLock {
            let t = target ?? config.receiptUrl.map { SimulatorConfig.ReceiptTarget(url: $0, secret: config.receiptSecret) }
            pendingReceipts.append(due: Date().addingTimeInterval(Double(delayMs) / 1000), body: body, target: t)
        }
        // The callback thread looks every 20 ms; only what is due at once wakes it.
        if delayMs <= 0 { wake.signal() }
    }

    /// Posts due callbacks, batching the receipts that are due together; a failed post is retried.
    func runCallbacks() {
        var backlog = false
        while true {
            if !backlog { _ = wake.wait(timeout: .now() + .milliseconds(20)) }
            // At most 4,000 callbacks a round (eight posts of 500), as a gateway's callback workers send them.
            let due = withLock { pendingReceipts.takeDue(now: Date(), limit: 4_000) }
            backlog = due.count == 4_000
            // Grouped per target, up to 500 receipts a post.
            var groups: [String: (target: SimulatorConfig.ReceiptTarget, receipts: [JSONValue], replies: [JSONValue])] = [:]
            for d in due {
                guard let target = d.target else { continue }
                var g = groups[target.url] ?? (target, [], [])
                if case .array(let r)? = d.body["receipts"] { g.receipts += r }
                if case .array(let r)? = d.body["replies"] { g.replies += r }
                groups[target.url] = g
            }
            // The posts of a round go out side by side, as a gateway's callback workers would send them.
            let round = DispatchGroup()
            for (_, g) in groups {
                var start = 0
                while start < max(g.receipts.count, g.replies.count) {
                    let r = Array(g.receipts[min(start, g.receipts.count)..<min(start + 500, g.receipts.count)])
                    let p = Array(g.replies[min(start, g.replies.count)..<min(start + 500, g.replies.count)])
                    start += 500
                    var request = HTTPClientRequest(method: "POST", url: g.target.url, timeoutMs: 10_000)
                    request.headers.add("content-type", "application/json")
                    if let secret = g.target.secret { request.headers.add("x-provider-secret", secret) }
                    let payload = JSONValue.object(["receipts": .array(r), "replies": .array(p)])
                    request.body = payload.jsonBytes
                    round.enter()
                    client.send(request) { outcome in
                        let ok = (try? outcome.get())?.isSuccess ?? false
                        self.withLock {
                            if ok { self.receiptsPosted += r.count } else {
                                self.receiptErrors += 1
                                self.pendingReceipts.append(due: Date().addingTimeInterval(0.5), body: payload, target: g.target)
                            }
                        }
                        round.leave()
                    }
                }
            }
            round.wait()
        }
    }

    var stats: JSONValue {
        withLock {
            .object([
                "received": .number(Double(received)), "calls": .number(Double(calls)), "accepted": .number(Double(byKey.count)),
                "duplicates": .number(Double(duplicates)), "duplicateKeys": .number(Double(duplicateKeys)),
                "failed": .number(Double(failed)), "rejected": .number(Double(rejected)), "timedOut": .number(Double(timedOut)),
                "receiptsPosted": .number(Double(receiptsPosted)), "receiptErrors": .number(Double(receiptErrors)),
                "receiptsPending": .number(Double(pendingReceipts.count)),
            ])
        }
    }

    func messages(key: String?) -> [Received] {
        withLock { key.map { byKey[$0].map { [$0] } ?? [] } ?? byKey.values.sorted { $0.receivedAt < $1.receivedAt } }
    }
}

/// Callbacks waiting for their time, in the order queued: a round takes them from the front while they
/// are due (one queued later with a shorter delay waits behind, at most the longest delay), so a large
/// backlog costs a round only what it takes.
struct ReceiptQueue {
    private var entries: [(due: Date, body: JSONValue, target: SimulatorConfig.ReceiptTarget?)] = []
    private var head = 0

    var count: Int { entries.count - head }

    mutating func append(due: Date, body: JSONValue, target: SimulatorConfig.ReceiptTarget?) {
        entries.append((due, body, target))
    }

    mutating func takeDue(now: Date, limit: Int) -> [(body: JSONValue, target: SimulatorConfig.ReceiptTarget?)] {
        var taken: [(body: JSONValue, target: SimulatorConfig.ReceiptTarget?)] = []
        while head < entries.count, taken.count < limit, entries[head].due <= now {
            taken.append((entries[head].body, entries[head].target))
            head += 1
        }
        if head > 4_096, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return taken
    }
}

let environment = ProcessInfo.processInfo.environment
var serverConfiguration = HTTPServerConfiguration(host: "127.0.0.1", port: environment["SIM_PORT"].flatMap(Int.init) ?? 8090)
serverConfiguration.workers = environment["SIM_WORKERS"].flatMap(Int.init) ?? 64
serverConfiguration.eventLoops = 1
let simulator = Simulator(config: SimulatorConfig.fromEnvironment(),
                          expectedKeys: min(environment["SIM_EXPECTED_KEYS"].flatMap(Int.init) ?? 0, 20_000_000))
let router = Router()
router.get("/healthz", options: .inline) { _, _ in .text("ok") }
router.get("/control/stats") { _, _ in try .json(simulator.stats) }
router.get("/control/messages") { request, _ in try .json(["items": simulator.messages(key: request.queryParameters["key"])]) }
router.get("/control/config") { _, _ in try .json(simulator.currentConfig) }
router.put("/control/config") { request, _ in
    guard let change = try? JSONDecoder().decode([String: JSONValue].self, from: Data(request.body.bytes)) else {
        return try .json(["error": ["code": "bad_request", "message": "a JSON object of config members"]], status: 400)
    }
    return try .json(simulator.update { c in
        if let v = change["latencyMs"]?.doubleValue { c.latencyMs = Int(v) }
        if let v = change["failureRate"]?.doubleValue { c.failureRate = v }
        if let v = change["rejectRate"]?.doubleValue { c.rejectRate = v }
        if let v = change["timeoutRate"]?.doubleValue { c.timeoutRate = v }
        if let v = change["timeoutMs"]?.doubleValue { c.timeoutMs = Int(v) }
        if let v = change["receiptDelayMs"]?.doubleValue { c.receiptDelayMs = Int(v) }
        if let v = change["receiptFailureRate"]?.doubleValue { c.receiptFailureRate = v }
        if let v = change["receiptUrl"] { c.receiptUrl = v.stringValue }
        if let v = change["receiptSecret"] { c.receiptSecret = v.stringValue }
        if let v = change["receiptTargets"], let data = try? JSONEncoder().encode(v),
           let targets = try? JSONDecoder().decode([String: SimulatorConfig.ReceiptTarget].self, from: data) { c.receiptTargets = targets }
    })
}
router.post("/control/reset") { _, _ in simulator.reset(); return .status(204) }
router.post("/control/reply") { request, _ in
    guard let reply = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body.bytes)), case .object = reply else {
        return try .json(["error": ["code": "bad_request", "message": "{customerId | phone, text}"]], status: 400)
    }
    let channel = reply["channel"]?.stringValue ?? "sms"
    simulator.queueCallback(.object(["replies": .array([reply])]), delayMs: 0, target: simulator.currentConfig.receiptTargets[channel])
    return .status(202)
}
router.post("/{path...}", options: RouteOptions(maxBodyBytes: 4 << 20)) { request, _ in try simulator.send(request) }

let server = HTTPServer(configuration: serverConfiguration, router: router)
do {
    try server.start()
} catch {
    FileHandle.standardError.write(Data("ProviderSimulator: \(error)\n".utf8))
    exit(1)
}
Thread.detachNewThread { simulator.runCallbacks() }
FileHandle.standardOutput.write(Data("provider simulator listening on \(server.port)\n".utf8))
signal(SIGTERM, SIG_IGN)
let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
term.setEventHandler {
    server.shutdown()
    exit(0)
}
term.resume()
dispatchMain()
