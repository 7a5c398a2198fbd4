import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// Crash safety and replicas (issue 8 §5): the canvas service is killed with SIGKILL while a batch
/// canvas sends to a segment, restarted, and joined by a second replica; every customer gets exactly
/// one first message, counted at the provider simulator by idempotency key (`<journey>:<node>`).
/// `LATTICE_CANVAS_CRASH_CUSTOMERS` sets the size (default 10,000).
final class CanvasCrashTests: XCTestCase {
    func testAKilledCanvasServiceSendsEveryCustomerExactlyOneFirstMessage() throws {
        let n = Int(ProcessInfo.processInfo.environment["LATTICE_CANVAS_CRASH_CUSTOMERS"] ?? "") ?? 10_000
        // Small batches and a slow provider, so that the kill lands in the middle of the wave.
        let platform = try CanvasPlatform(canvasEnvironment: ["LATTICE_CANVAS_BATCH": "200", "LATTICE_CANVAS_WORKERS": "2"])
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        // Customers in parallel through the gateway (consents go through PUT with their evidence).
        final class Failures: @unchecked Sendable {   // Thread-safety: guarded by `lock`.
            let lock = NSLock()
            var count = 0
        }
        let failures = Failures()
        let token = bank.hqOperator
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in stride(from: worker, to: n, by: 8) {
                let body = #"{"orgId":"sh","name":"客户\#(i)","phone":"139\#(String(format: "%08d", i))","city":"杭州","consents":{"sms":true,"push":true}}"#
                // A busy 2-core machine may time a call out: retry it (PUT is an upsert).
                var ok = false
                for attempt in 0..<5 where !ok {
                    if attempt > 0 { Thread.sleep(forTimeInterval: 0.2 * Double(attempt)) }
                    ok = (try? platform.call("PUT", "/api/v1/customers/k\(i)", token: token, json: body).status).map { $0 == 200 || $0 == 201 } ?? false
                }
                if !ok { failures.lock.lock(); failures.count += 1; failures.lock.unlock() }
            }
        }
        XCTAssertEqual(failures.count, 0)
        let segment = try bank.segment(city: "杭州", token: bank.shOperator, expected: n)
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"latencyMs": 5}"#)
        let canvas = try JSONValue.parse("""
            {"name": "批量短信：理财节", "entry": {"type": "segment", "segmentId": "\(segment)"}, "start": "sms",
             "nodes": [{"id": "sms", "type": "send", "channel": "sms", "templateId": "\(bank.smsTemplate)", "next": null}]}
            """)
        let started = Date()
        let id = try bank.launch(canvas)
        XCTAssertTrue(platform.eventually(timeout: 120) { ((try? platform.simulatorStats()["accepted"]) ?? 0) >= n / 10 })
        let victim = platform.canvases[0]
        victim.signal(SIGKILL)
        XCTAssertNotNil(victim.waitForExit(timeout: 10))
        let atKill = try platform.simulatorStats()["accepted"] ?? 0
        // The kill must land mid-run for the test to prove anything.
        Thread.sleep(forTimeInterval: 1)
        let dispatchedAtKill = try platform.simulatorStats()["accepted"] ?? 0
        XCTAssertLessThan(dispatchedAtKill, n, "the kill came after every message was sent: the test proves nothing")
        // Back on the gateway's port, and a second replica beside it.
        try platform.startCanvas(port: platform.canvasPort)
        try platform.startCanvas()
        XCTAssertTrue(platform.eventually(timeout: 300) { ((try? platform.simulatorStats()["accepted"]) ?? 0) >= n },
                      "not every customer got a message")
        XCTAssertTrue(platform.eventually(timeout: 60) { ((try? bank.stats(id)["exited"]?.doubleValue) ?? 0) >= Double(n) })
        Thread.sleep(forTimeInterval: 1)
        let sim = try platform.simulatorStats()
        var perKey: [String: Int] = [:]
        for m in try platform.simulatorCall("GET", "/control/messages").items {
            if let k = m["key"]?.stringValue { perKey[k] = Int(m["count"]?.doubleValue ?? 0) }
        }
        XCTAssertEqual(perKey.count, n, "one key per customer")
        // A key may reach the provider twice only when the dispatcher called again after a call whose
        // answer it could not use (a timeout, or a claim whose lease ran out on a loaded machine): the
        // provider keeps the first by key, and every such arrival is a repeated claim of the message's
        // delivery job (a claim counts an attempt of the job before its call; the message counts the
        // calls whose outcome it recorded). Anything beyond is a journey or message sent twice.
        let repeated = perKey.values.reduce(0) { $0 + max($1 - 1, 0) }
        var config = try PostgresConfiguration(url: try TestEnvironment.databaseURL())
        config.searchPath = [platform.schemas[3]]
        let dispatch = PostgresPool(configuration: config)
        defer { dispatch.close() }
        let reclaimed = try dispatch.query("""
            SELECT coalesce(sum(attempts - 1), 0)::int8 AS n FROM jobs WHERE queue = 'dispatch.send' AND attempts > 1
            """).first?.decode("n", as: Int64.self) ?? 0
        XCTAssertLessThanOrEqual(Int64(repeated), reclaimed, "a key reached the provider more often than the dispatcher claimed its message")
        XCTAssertEqual(try dispatch.query("SELECT count(*)::int8 AS n FROM messages").first?.decode("n", as: Int64.self), Int64(n),
                       "one message per customer at the dispatcher")
        XCTAssertEqual(sim["accepted"], n)
        let stats = try bank.stats(id)
        XCTAssertEqual(stats["entered"]?.doubleValue, Double(n))
        print("crash test: \(n) customers, killed after \(atKill) messages, every customer exactly one message (\(repeated) repeated provider calls, all retries); "
              + "\(Int(Double(n) / Date().timeIntervalSince(started))) msg/s overall including the restart")
    }
}
