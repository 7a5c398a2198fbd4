import Contracts
import Foundation
import HTTP
import XCTest

/// Delivery to the simulated provider: the key passed along, receipts, retries on 5xx and timeouts but
/// not on 4xx, the fallback channel, the inbox, SMS replies opting out, tracked links.
final class DispatcherDeliveryTests: XCTestCase {
    var platform: DispatcherPlatform!
    var bank: DispatcherBank!

    override func setUpWithError() throws {
        platform = try DispatcherPlatform(dispatcherEnvironment: ["LATTICE_DISPATCH_MAX_ATTEMPTS": "8"])
        bank = try DispatcherBank(platform: platform)
    }

    override func tearDown() { platform?.stop() }

    func testAMessageReachesTheProviderWithItsKeyAndIsDeliveredByReceipt() throws {
        try bank.customer("C1", name: "王五")
        let t = try bank.template(channel: "push", body: "{{name}}您好，{{gift}}已到账")
        let m = try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("cv9:i1:n1"),
                               "variables": .object(["gift": .string("50元券")])])
        XCTAssertEqual(m["body"]?.stringValue, "王五您好，50元券已到账")
        let delivered = try bank.waitFor(try XCTUnwrap(m["id"]?.stringValue), status: "delivered")
        XCTAssertNotNil(delivered["sentAt"]?.stringValue)
        XCTAssertEqual(delivered["attempts"]?.doubleValue, 1)
        let atProvider = try platform.simulatorCall("GET", "/control/messages?key=cv9:i1:n1").items
        XCTAssertEqual(atProvider.count, 1)
        XCTAssertEqual(atProvider.first?["count"]?.doubleValue, 1)
        XCTAssertEqual(atProvider.first?["body"]?.stringValue, "王五您好，50元券已到账")
        XCTAssertEqual(atProvider.first?["messageId"], m["id"])
        // The 360° view of the profile shows the message.
        let view = try platform.json("GET", "/api/v1/customers/C1", token: bank.hqOperator, expect: 200)
        XCTAssertTrue("\(view["messages"] ?? .null)".contains("cv9:i1:n1"), "\(view)")
    }

    func testRetriesAfterFailuresAndTimeoutsButNotAfterARejection() throws {
        try bank.customer("C1")
        let t = try bank.template(channel: "push", body: "重试测试", kind: "transactional")
        // Every call fails with 503 until each message was refused at least once, then the provider is
        // back: every message still arrives, once.
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"failureRate":1}"#)
        var ids: [String] = []
        for i in 0..<20 {
            ids.append(try XCTUnwrap(try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("r\(i)")])["id"]?.stringValue))
        }
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["failed"] ?? 0) >= 20 })
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"failureRate":0}"#)
        for id in ids { try bank.waitFor(id, status: "delivered", timeout: 30) }
        var stats = try platform.simulatorStats()
        XCTAssertEqual(stats["accepted"], 20)
        XCTAssertGreaterThan(stats["failed"] ?? 0, 0)
        // A timeout (accepted, answered too late) is retried with the same key: the provider sees a duplicate and sends once.
        // (No receipts meanwhile: a receipt would prove delivery, and then nothing is retried.)
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"failureRate":0,"timeoutRate":1,"timeoutMs":4000,"receiptTargets":{}}"#)
        let slow = try XCTUnwrap(try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("slow")])["id"]?.stringValue)
        XCTAssertTrue(try platform.eventually(timeout: 10) { (try bank.message(slow)["attempts"]?.doubleValue ?? 0) >= 2 })
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"timeoutRate":0}"#)
        try bank.waitFor(slow, status: "sent", timeout: 20)
        try bank.pointReceipts()
        let slowAtProvider = try platform.simulatorCall("GET", "/control/messages?key=slow").items
        XCTAssertGreaterThanOrEqual(slowAtProvider.first?["count"]?.doubleValue ?? 0, 2)
        // A 4xx is final: one call, failed, no retry.
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"rejectRate":1}"#)
        let before = try platform.simulatorStats()["rejected"] ?? 0
        let rejected = try XCTUnwrap(try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("bad")])["id"]?.stringValue)
        let failed = try bank.waitFor(rejected, status: "failed")
        XCTAssertEqual(failed["reason"]?.stringValue, "provider_rejected:400")
        Thread.sleep(forTimeInterval: 0.5)
        stats = try platform.simulatorStats()
        XCTAssertEqual((stats["rejected"] ?? 0) - before, 1)
        XCTAssertEqual(try bank.message(rejected)["attempts"]?.doubleValue, 1)
        // 5xx until the attempts run out: failed after LATTICE_DISPATCH_MAX_ATTEMPTS calls.
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"rejectRate":0,"failureRate":1}"#)
        let down = try XCTUnwrap(try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("down")])["id"]?.stringValue)
        let gaveUp = try bank.waitFor(down, status: "failed", timeout: 40)
        XCTAssertEqual(gaveUp["reason"]?.stringValue, "provider_unavailable")
        XCTAssertEqual(gaveUp["attempts"]?.doubleValue, 8)
    }

    func testAReceiptThatOvertakesTheProvidersAnswerIsApplied() throws {
        try bank.customer("C1")
        let t = try bank.template(channel: "push", body: "回执先到", kind: "transactional")
        // The provider takes the message and posts its receipt at once, but answers the call only after
        // the call timed out: the receipt finds the message routed to it at admission, still queued.
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"timeoutRate":1,"timeoutMs":3000}"#)
        let m = try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("early")])
        XCTAssertEqual(m["providerId"]?.stringValue, bank.providers["push"]?.id)
        let id = try XCTUnwrap(m["id"]?.stringValue)
        let delivered = try bank.waitFor(id, status: "delivered", timeout: 2)
        XCTAssertNotNil(delivered["deliveredAt"]?.stringValue)
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"timeoutRate":0}"#)
        // The timed-out call is not repeated: the message is delivered already.
        Thread.sleep(forTimeInterval: 4)
        XCTAssertEqual(try platform.simulatorStats()["received"], 1)
        let after = try bank.message(id)
        XCTAssertEqual(after["status"]?.stringValue, "delivered")
        XCTAssertEqual(after["attempts"]?.doubleValue, 1)
    }

    func testAFailedMessageFallsBackToAnotherChannelAndTheInboxServesIt() throws {
        try bank.customer("C1")
        let push = try bank.template(channel: "push", body: "账单已出，请及时还款")
        let inbox = try bank.template(channel: "inbox", body: "{{name}}，您的账单已出")
        _ = try platform.simulatorCall("PUT", "/control/config", json: #"{"rejectRate":1}"#)
        let m = try bank.send(["customerId": .string("C1"), "templateId": .string(push), "key": .string("fb1"),
                               "fallbackChannel": .string("inbox"), "fallbackTemplateId": .string(inbox)])
        try bank.waitFor(try XCTUnwrap(m["id"]?.stringValue), status: "failed")
        var fallback: JSONValue?
        XCTAssertTrue(try platform.eventually {
            fallback = try platform.json("GET", "/api/v1/messages?customerId=C1", token: bank.hqOperator, expect: 200).items
                .first { $0["fallbackOf"] == m["id"] }
            return fallback?["status"]?.stringValue == "delivered"
        }, "\(fallback ?? .null)")
        XCTAssertEqual(fallback?["channel"]?.stringValue, "inbox")
        XCTAssertEqual(fallback?["key"]?.stringValue, "fb1:fallback")
        let items = try platform.json("GET", "/api/v1/inbox/C1", token: bank.hqOperator, expect: 200).items
        XCTAssertEqual(items.map { $0["body"]?.stringValue }, ["张三，您的账单已出"])
        let messageId = try XCTUnwrap(items.first?["messageId"]?.stringValue)
        let read = try platform.json("POST", "/api/v1/inbox/C1/\(messageId):read", token: bank.hqOperator, expect: 200)
        XCTAssertNotNil(read["readAt"]?.stringValue)
        XCTAssertEqual(try platform.json("GET", "/api/v1/inbox/C1?unread=true", token: bank.hqOperator, expect: 200).items.count, 0)
        XCTAssertEqual(try platform.call("POST", "/api/v1/inbox/C1/msg_unknown:read", token: bank.hqOperator).status, 404)
        XCTAssertEqual(try platform.simulatorStats()["rejected"], 1)
    }

    func testReceiptsNeedTheProvidersSecretAndAReplyTOptsTheCustomerOut() throws {
        try bank.customer("C1", phone: "13900000001")
        let sms = try bank.template(channel: "sms", body: "【Lattice银行】您的专属优惠已到，回T退订")
        let provider = try XCTUnwrap(bank.providers["sms"])
        let body = #"{"receipts":[{"messageId":"msg_x","status":"delivered"}]}"#
        XCTAssertEqual(try platform.call("POST", "/api/v1/receipts/\(provider.id)", token: nil, json: body).status, 401)
        XCTAssertEqual(try platform.call("POST", "/api/v1/receipts/\(provider.id)", token: nil, json: body,
                                         headers: [("X-Provider-Secret", "wrong")]).status, 401)
        XCTAssertEqual(try platform.call("POST", "/api/v1/receipts/prv_unknown", token: nil, json: body,
                                         headers: [("X-Provider-Secret", provider.secret)]).status, 401)
        // Another provider's secret does not open this provider's callback.
        XCTAssertEqual(try platform.call("POST", "/api/v1/receipts/\(provider.id)", token: nil, json: body,
                                         headers: [("X-Provider-Secret", bank.providers["push"]!.secret)]).status, 401)
        let bad = try platform.call("POST", "/api/v1/receipts/\(provider.id)", token: nil, json: #"{"receipts":[{"messageId":"m","status":"lost"}]}"#,
                                    headers: [("X-Provider-Secret", provider.secret)])
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(try bad.decode(JSONValue.self)["error"]?["details"]?["field"]?.stringValue, "receipts[0].status")
        let unknown = try platform.json("POST", "/api/v1/receipts/\(provider.id)", token: nil,
                                        .object(["receipts": .array([.object(["messageId": .string("msg_x"), "status": .string("delivered")])])]),
                                        headers: [("X-Provider-Secret", provider.secret)], expect: 200)
        XCTAssertEqual(unknown["unknown"]?.doubleValue, 1)
        // An SMS reaches the customer; the customer answers "T" (by phone number): opted out in the profile.
        let m = try bank.send(["customerId": .string("C1"), "templateId": .string(sms), "key": .string("s1")])
        try bank.waitFor(try XCTUnwrap(m["id"]?.stringValue), status: "delivered")
        _ = try platform.simulatorCall("POST", "/control/reply", json: #"{"phone":"13900000001","text":" t "}"#)
        XCTAssertTrue(try platform.eventually {
            try platform.json("GET", "/api/v1/customers/C1", token: bank.hqOperator, expect: 200)["marketingOptOut"] == .bool(true)
        })
        let next = try bank.send(["customerId": .string("C1"), "templateId": .string(sms), "key": .string("s2")])
        XCTAssertEqual(next["reason"]?.stringValue, "marketing_opt_out")
        // Any other reply is ignored.
        let ignored = try platform.json("POST", "/api/v1/receipts/\(provider.id)", token: nil,
                                        .object(["replies": .array([.object(["customerId": .string("C1"), "text": .string("谢谢")])])]),
                                        headers: [("X-Provider-Secret", provider.secret)], expect: 200)
        XCTAssertEqual(ignored["ignoredReplies"]?.doubleValue, 1)
    }

    func testATrackedLinkRecordsAClickInTheProfileAndRedirects() throws {
        try bank.customer("C1")
        let t = try bank.template(channel: "push", body: "{{name}}，点此领取 {{link:https://bank.example/gift?id=7}}")
        let m = try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("l1")])
        let body = try XCTUnwrap(m["body"]?.stringValue)
        let code = try XCTUnwrap(body.components(separatedBy: "/t/").last)
        XCTAssertTrue(body.hasPrefix("张三，点此领取 http://127.0.0.1:\(platform.gatewayPort)/t/"), body)
        // No token: the link is public.
        let r = try platform.call("GET", "/t/\(code)", token: nil)
        XCTAssertEqual(r.status, 302, r.bodyText)
        XCTAssertEqual(r.header("location"), "https://bank.example/gift?id=7")
        XCTAssertTrue(try platform.eventually {
            "\(try platform.json("GET", "/api/v1/customers/C1", token: bank.hqOperator, expect: 200)["recentEvents"] ?? .null)".contains("message_clicked")
        })
        XCTAssertEqual(try platform.call("GET", "/t/ZZZZZZZZZZZZZZZZ", token: nil).status, 404)
        XCTAssertEqual(try platform.call("GET", "/t/%00", token: nil).status, 404)
    }
}
