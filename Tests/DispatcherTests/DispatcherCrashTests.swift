import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// Crash safety and replicas: a dispatcher killed with SIGKILL in the middle of a batch loses nothing
/// and repeats only what was in flight, with the same key; two replicas never send a message twice;
/// a provider's rate holds across replicas.
final class DispatcherCrashTests: XCTestCase {
    var platform: DispatcherPlatform!
    var bank: DispatcherBank!

    override func tearDown() { platform?.stop() }

    func start(threads: Int = 4, latencyMs: Int = 10) throws {
        platform = try DispatcherPlatform(dispatcherEnvironment: ["LATTICE_DISPATCH_WORKERS": String(threads), "LATTICE_DISPATCH_BATCH": "20"],
                                          simulatorEnvironment: ["SIM_LATENCY_MS": String(latencyMs)])
        bank = try DispatcherBank(platform: platform)
        try bank.customer("C1")
    }

    /// Queues `n` transactional push messages (not capped) in batches; their keys.
    func queue(_ n: Int, prefix: String) throws -> [String] {
        let t = try bank.template(channel: "push", body: "批量通知", kind: "transactional")
        var keys: [String] = []
        var start = 0
        while start < n {
            let items = (start..<min(start + 200, n)).map { i -> JSONValue in
                .object(["customerId": .string("C1"), "templateId": .string(t), "key": .string("\(prefix)-\(i)")])
            }
            let answer = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, .object(["messages": .array(items)]), expect: 200)
            XCTAssertEqual(answer.items.filter { $0["message"]?["status"]?.stringValue == "queued" }.count, items.count)
            keys += (start..<min(start + 200, n)).map { "\(prefix)-\($0)" }
            start += 200
        }
        return keys
    }

    func atProvider() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for m in try platform.simulatorCall("GET", "/control/messages").items {
            if let k = m["key"]?.stringValue { out[k] = Int(m["count"]?.doubleValue ?? 0) }
        }
        return out
    }

    func testAKilledDispatcherLosesNothingAndRepeatsOnlyWhatWasInFlight() throws {
        let threads = 4
        try start(threads: threads, latencyMs: 15)
        let keys = try queue(400, prefix: "crash")
        XCTAssertTrue(platform.eventually(timeout: 20) { ((try? platform.simulatorStats()["accepted"]) ?? 0) >= 60 })
        let victim = platform.dispatchers[0]
        victim.signal(SIGKILL)
        XCTAssertNotNil(victim.waitForExit(timeout: 10))
        let atKill = try platform.simulatorStats()["accepted"] ?? 0
        XCTAssertLessThan(atKill, 400, "the kill came after the whole batch was sent: the test proves nothing")
        // A new replica on the same port (the gateway's upstream) takes over once the leases expire.
        try platform.startDispatcher(port: platform.dispatcherPort)
        XCTAssertTrue(platform.eventually(timeout: 60) { ((try? platform.simulatorStats()["accepted"]) ?? 0) >= 400 },
                      "\((try? platform.simulatorStats()) ?? [:])")
        let received = try atProvider()
        XCTAssertEqual(Set(received.keys), Set(keys), "every message reached the provider, and nothing else")
        let repeated = received.filter { $0.value > 1 }
        // Only messages a thread was calling out at the kill can be repeated: a thread calls its claimed
        // batch side by side, so at most one batch (LATTICE_DISPATCH_BATCH = 20) per thread.
        XCTAssertLessThanOrEqual(repeated.count, threads * 20, "\(repeated)")
        XCTAssertTrue(repeated.values.allSatisfy { $0 == 2 }, "\(repeated)")
        // And every message ends delivered.
        XCTAssertTrue(try platform.eventually(timeout: 30) {
            var delivered = 0, cursor: String? = nil
            repeat {
                let page = try platform.json("GET", "/api/v1/messages?customerId=C1&status=delivered&limit=200" + (cursor.map { "&cursor=\($0)" } ?? ""),
                                             token: bank.hqOperator, expect: 200)
                delivered += page.items.count
                cursor = page["nextCursor"]?.stringValue
            } while cursor != nil
            return delivered == 400
        })
    }

    func testTwoReplicasNeverSendAMessageTwice() throws {
        try start(threads: 4, latencyMs: 5)
        try platform.startDispatcher()
        let keys = try queue(600, prefix: "pair")
        XCTAssertTrue(platform.eventually(timeout: 60) { ((try? platform.simulatorStats()["accepted"]) ?? 0) >= 600 })
        Thread.sleep(forTimeInterval: 0.5)
        let received = try atProvider()
        XCTAssertEqual(Set(received.keys), Set(keys))
        XCTAssertEqual(received.values.filter { $0 > 1 }.count, 0)
        XCTAssertEqual(try platform.simulatorStats()["duplicates"], 0)
    }

    func testAProvidersRateHoldsAcrossReplicas() throws {
        try start(threads: 4, latencyMs: 1)
        try platform.startDispatcher()
        let slow = try platform.json("POST", "/api/v1/providers", token: bank.hqOperator, .object([
            "channel": .string("wechat"), "name": .string("slow"), "endpoint": .string(platform.simulatorURL), "ratePerSecond": .number(10),
        ]), expect: 201)
        XCTAssertNotNil(slow["id"]?.stringValue)
        try bank.customer("C1", consents: ["wechat": true])
        let t = try bank.template(channel: "wechat", body: "限速测试", kind: "transactional")
        let begin = Date()
        let items = (0..<40).map { i -> JSONValue in .object(["customerId": .string("C1"), "templateId": .string(t), "key": .string("rate-\(i)")]) }
        _ = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, .object(["messages": .array(items)]), expect: 200)
        XCTAssertTrue(platform.eventually(timeout: 30) { ((try? platform.simulatorStats()["accepted"]) ?? 0) >= 40 })
        let took = Date().timeIntervalSince(begin)
        // 40 messages at 10 a second span at least four seconds of the clock (more than two seconds of
        // time, the first one partly) whatever the replicas.
        XCTAssertGreaterThan(took, 2.0)
        var perSecond: [Int: Int] = [:]
        for m in try platform.simulatorCall("GET", "/control/messages").items {
            if let at = m["receivedAt"]?.stringValue.flatMap(JSONCoding.parseDate) ?? m["receivedAt"]?.doubleValue.map({ Date(timeIntervalSinceReferenceDate: $0) }) {
                perSecond[Int(at.timeIntervalSince1970), default: 0] += 1
            }
        }
        // A grant near a second's end may arrive in the next: allow one second's spill, never a burst.
        XCTAssertLessThanOrEqual(perSecond.values.max() ?? 0, 14, "\(perSecond)")
        XCTAssertGreaterThanOrEqual(perSecond.count, 4, "\(perSecond)")
    }
}
