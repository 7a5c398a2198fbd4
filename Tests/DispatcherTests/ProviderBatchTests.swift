import Contracts
@testable import Dispatcher
import Foundation
import HTTP
import XCTest

/// A provider's batch submission: several messages a call, each with its own key, answered per message;
/// a rejected message fails alone, a failed call is retried whole, an answer that leaves a message out
/// has that message retried.
final class ProviderBatchTests: XCTestCase {
    func testABatchProviderTakesMessagesSeveralACallEachWithItsKey() throws {
        let platform = try DispatcherPlatform()
        defer { platform.stop() }
        let bank = try DispatcherBank(platform: platform, batchSize: 10)
        // The batch size is validated like every field.
        for bad: JSONValue in [.number(0), .number(1001), .string("10")] {
            let answer = try platform.call("POST", "/api/v1/providers", token: bank.hqOperator, json: String(decoding: try JSONEncoder().encode(JSONValue.object([
                "channel": .string("email"), "name": .string("mail"), "endpoint": .string(platform.simulatorURL), "ratePerSecond": .number(10),
                "batchSize": bad,
            ])), as: UTF8.self))
            XCTAssertEqual(answer.status, 400, "\(bad)")
            XCTAssertEqual(try answer.decode(JSONValue.self)["error"]?["details"]?["field"]?.stringValue, "batchSize")
        }
        let listed = try platform.json("GET", "/api/v1/providers", token: bank.hqOperator, expect: 200).items
        XCTAssertEqual(Set(listed.compactMap { $0["batchSize"]?.doubleValue }), [10])

        try bank.customer("C1")
        let t = try bank.template(channel: "push", body: "批量测试", kind: "transactional")
        let items: [JSONValue] = (0..<25).map { .object(["customerId": .string("C1"), "templateId": .string(t), "key": .string("b\($0)")]) }
        let sent = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, .object(["messages": .array(items)]), expect: 200).items
        for a in sent { try bank.waitFor(try XCTUnwrap(a["message"]?["id"]?.stringValue), status: "delivered") }
        var stats = try platform.simulatorStats()
        XCTAssertEqual(stats["accepted"], 25)
        XCTAssertEqual(stats["duplicates"], 0)
        // 25 messages in calls of at most 10: three calls when one worker claimed them all, never 25.
        XCTAssertGreaterThanOrEqual(stats["calls"] ?? 0, 3)
        XCTAssertLessThan(stats["calls"] ?? 0, 25)
        let atProvider = try platform.simulatorCall("GET", "/control/messages?key=b7").items
        XCTAssertEqual(atProvider.first?["messageId"], sent[7]["message"]?["id"])

        // Failed calls are retried whole, with the same keys: every message arrives once.
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"failureRate":1}"#)
        let retried = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, .object(["messages": .array(
            (0..<20).map { .object(["customerId": .string("C1"), "templateId": .string(t), "key": .string("r\($0)")]) })]), expect: 200).items
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["failed"] ?? 0) >= 20 })
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"failureRate":0}"#)
        for a in retried { try bank.waitFor(try XCTUnwrap(a["message"]?["id"]?.stringValue), status: "delivered", timeout: 40) }
        stats = try platform.simulatorStats()
        XCTAssertEqual(stats["accepted"], 45)
        XCTAssertEqual(stats["duplicates"], 0)
        XCTAssertGreaterThanOrEqual(try bank.message(try XCTUnwrap(retried[0]["message"]?["id"]?.stringValue))["attempts"]?.doubleValue ?? 0, 2)

        // A message the provider rejects fails alone, with the provider's reason, after one call.
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"failureRate":0,"rejectRate":1}"#)
        let rejected = try XCTUnwrap(try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("bad")])["id"]?.stringValue)
        let failed = try bank.waitFor(rejected, status: "failed")
        XCTAssertEqual(failed["reason"]?.stringValue, "provider_rejected:invalid_recipient")
        XCTAssertEqual(failed["attempts"]?.doubleValue, 1)
    }

    /// The answer of a batch call read per message, in memory.
    func testABatchAnswerIsReadPerMessage() {
        func answer(_ status: Int, _ body: String) -> Swift.Result<HTTPClientResponse, HTTPClientError> {
            .success(HTTPClientResponse(status: status, body: Array(body.utf8)))
        }
        let keys = ["k1", "k2", "k3", "k4"]
        let results = ProviderCall.classify(answer(200, """
            {"results":[{"idempotencyKey":"k2","status":"rejected","error":"invalid_recipient"},
                        {"idempotencyKey":"k1","status":"accepted","id":"ref-1"},
                        {"idempotencyKey":"k3","status":"failed","error":"busy"}]}
            """), keys: keys)
        XCTAssertEqual(results.count, 4)
        guard case .accepted(let reference) = results[0] else { return XCTFail("\(results[0])") }
        XCTAssertEqual(reference, "ref-1")
        guard case .rejected(let why) = results[1] else { return XCTFail("\(results[1])") }
        XCTAssertEqual(why, "invalid_recipient")
        // Failed by the provider, or left out of its answer: worth another attempt.
        guard case .unavailable = results[2], case .unavailable = results[3] else { return XCTFail("\(results)") }
        // A call answered without results, with 503 or with 400 decides for all its messages.
        for (outcome, retry) in [(answer(200, #"{"ok":true}"#), true), (answer(503, "{}"), true), (answer(400, "{}"), false)] {
            for result in ProviderCall.classify(outcome, keys: keys) {
                switch result {
                case .unavailable: XCTAssertTrue(retry)
                case .rejected: XCTAssertFalse(retry)
                case .accepted: XCTFail("accepted without a result")
                }
            }
        }
    }
}
