import Contracts
import Foundation
import HTTP
import XCTest

/// `POST /api/v1/messages` through the gateway: the policy chain with each suppression's reason, caps
/// across campaigns, quiet hours deferring, idempotency by key, and bad input naming its field.
final class DispatcherSendTests: XCTestCase {
    var platform: DispatcherPlatform!
    var bank: DispatcherBank!

    override func setUpWithError() throws {
        platform = try DispatcherPlatform()
        bank = try DispatcherBank(platform: platform)
    }

    override func tearDown() { platform?.stop() }

    func item(_ customer: String, _ template: String, key: String, campaign: String? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["customerId": .string(customer), "templateId": .string(template), "key": .string(key)]
        if let campaign { o["campaignId"] = .string(campaign) }
        return .object(o)
    }

    func batch(_ items: [JSONValue]) throws -> [JSONValue] {
        try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, .object(["messages": .array(items)]), expect: 200).items
    }

    func testThePolicyChainSuppressesEachWithItsReason() throws {
        try bank.customer("OK1")
        try bank.customer("OPT", optOut: true)
        try bank.customer("NOC", consents: ["sms": true])
        try bank.customer("WDR", consents: ["push": false])
        try bank.customer("BL")
        try bank.customer("LOW", riskLevel: "C1")
        try bank.customer("NRA", riskLevel: nil)
        _ = try platform.json("PUT", "/api/v1/policies", token: bank.hqOperator, .object(["blacklist": .array([.string("BL")])]), expect: 200)
        let promo = try bank.template(channel: "push", body: "{{name}}您好，信用卡新客礼")
        let fund = try bank.template(channel: "push", body: "稳健增利R3基金开放申购。理财非存款，产品有风险，投资须谨慎", risk: "R3")
        let notice = try bank.template(channel: "push", body: "您的账户于今日登录", kind: "transactional")
        let answers = try batch([
            item("OK1", promo, key: "a1"), item("OPT", promo, key: "a2"), item("NOC", promo, key: "a3"), item("WDR", promo, key: "a4"),
            item("BL", promo, key: "a5"), item("LOW", fund, key: "a6"), item("NRA", fund, key: "a7"), item("OK1", fund, key: "a8"),
            item("NOBODY", promo, key: "a9"), item("OPT", notice, key: "a10"), item("BL", notice, key: "a11"), item("WDR", notice, key: "a12"),
        ])
        let got = answers.map { a -> String in
            let m = a["message"]
            return (m?["status"]?.stringValue ?? "refused") + (m?["reason"]?.stringValue.map { "(\($0))" } ?? "")
        }
        XCTAssertEqual(got, [
            "queued", "suppressed(marketing_opt_out)", "suppressed(no_consent:push)", "suppressed(consent_withdrawn:push)",
            "suppressed(blacklisted)", "suppressed(unsuitable:R3>C1)", "suppressed(suitability_unassessed)", "queued",
            "suppressed(unknown_customer)", "queued", "queued", "suppressed(consent_withdrawn:push)",
        ])
        // Suppressions are stored and listed with their reason; nothing suppressed reaches the provider.
        let listed = try platform.json("GET", "/api/v1/messages?customerId=OPT", token: bank.hqOperator, expect: 200).items
        XCTAssertEqual(listed.map { $0["status"]?.stringValue ?? "" }.sorted(), ["queued", "suppressed"].sorted())
        XCTAssertTrue(try platform.eventually {
            try platform.json("GET", "/api/v1/messages?customerId=OK1&status=delivered", token: bank.hqOperator, expect: 200).items.count == 2
        })
        XCTAssertEqual(try platform.simulatorStats()["accepted"], 4)
        let onlySuppressed = try platform.json("GET", "/api/v1/messages?customerId=WDR&status=suppressed", token: bank.hqOperator, expect: 200).items
        XCTAssertEqual(onlySuppressed.count, 2)
    }

    func testFrequencyCapsHoldAcrossCampaignsAndPerCampaign() throws {
        try bank.customer("C1")
        _ = try platform.json("PUT", "/api/v1/policies", token: bank.hqOperator, .object([
            "channelCaps": .object(["push": .object(["day": .number(3), "week": .number(4)])]),
            "overallCap": .object(["day": .number(10)]), "campaignCap": .object(["day": .number(1)]),
        ]), expect: 200)
        let promo = try bank.template(channel: "push", body: "新客礼遇")
        let notice = try bank.template(channel: "push", body: "账户变动提醒", kind: "transactional")
        var reasons: [String] = []
        // Four campaigns in one batch and one by one: the channel cap counts them all.
        let first = try batch([item("C1", promo, key: "f1", campaign: "cv1"), item("C1", promo, key: "f2", campaign: "cv1"),
                               item("C1", promo, key: "f3", campaign: "cv2")])
        reasons += first.map { $0["message"]?["reason"]?.stringValue ?? $0["message"]?["status"]?.stringValue ?? "?" }
        for (key, campaign) in [("f4", "cv3"), ("f5", "cv4")] {
            let m = try bank.send(["customerId": .string("C1"), "templateId": .string(promo), "key": .string(key), "campaignId": .string(campaign)])
            reasons.append(m["reason"]?.stringValue ?? m["status"]?.stringValue ?? "?")
        }
        XCTAssertEqual(reasons, ["queued", "campaign_cap:day", "queued", "queued", "frequency_cap:push:day"])
        // Transactional notices are not capped.
        for i in 0..<5 {
            XCTAssertEqual(try bank.send(["customerId": .string("C1"), "templateId": .string(notice), "key": .string("n\(i)")])["status"]?.stringValue, "queued")
        }
        // Concurrent sends of one customer never exceed the cap: a fresh customer, 12 parallel sends, cap 3.
        try bank.customer("C2")
        let lock = NSLock()
        nonisolated(unsafe) var all: [String] = []
        let platform = self.platform!, token = bank.hqOperator
        DispatchQueue.concurrentPerform(iterations: 12) { i in
            let r = try? platform.call("POST", "/api/v1/messages", token: token,
                                       json: #"{"customerId":"C2","templateId":"\#(promo)","key":"p\#(i)","campaignId":"cp\#(i)"}"#)
            let status = (try? r?.decode(JSONValue.self))??["status"]?.stringValue ?? "error \(r?.status ?? 0)"
            lock.lock(); all.append(status); lock.unlock()
        }
        XCTAssertEqual(all.filter { $0 == "queued" }.count, 3, "\(all)")
        XCTAssertEqual(all.filter { $0 == "suppressed" }.count, 9, "\(all)")
    }

    func testQuietHoursDeferToTheNextAllowedTimeInsteadOfDropping() throws {
        try bank.customer("C1")
        // A window around now in the bank's time zone.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let now = Date()
        func hhmm(_ d: Date) -> String {
            let c = calendar.dateComponents([.hour, .minute], from: d)
            return String(format: "%02d:%02d", c.hour!, c.minute!)
        }
        let end = now.addingTimeInterval(2 * 3600)
        _ = try platform.json("PUT", "/api/v1/policies", token: bank.hqOperator, .object([
            "quietHours": .object(["push": .object(["start": .string(hhmm(now.addingTimeInterval(-3600))), "end": .string(hhmm(end))])]),
        ]), expect: 200)
        let promo = try bank.template(channel: "push", body: "夜间不打扰")
        let notice = try bank.template(channel: "push", body: "交易提醒", kind: "transactional")
        let deferred = try bank.send(["customerId": .string("C1"), "templateId": .string(promo), "key": .string("q1")])
        XCTAssertEqual(deferred["status"]?.stringValue, "deferred")
        XCTAssertEqual(deferred["reason"]?.stringValue, "quiet_hours")
        let after = try XCTUnwrap(deferred["deliverAfter"]?.stringValue.flatMap { JSONCoding.parseDate($0) })
        XCTAssertEqual(hhmm(after), hhmm(end))
        XCTAssertGreaterThan(after, now.addingTimeInterval(3600))
        // A transactional notice is due now.
        let sent = try bank.send(["customerId": .string("C1"), "templateId": .string(notice), "key": .string("q2")])
        try bank.waitFor(try XCTUnwrap(sent["id"]?.stringValue), status: "delivered")
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try bank.message(try XCTUnwrap(deferred["id"]?.stringValue))["status"]?.stringValue, "deferred")
        XCTAssertEqual(try platform.simulatorStats()["accepted"], 1)
    }

    func testSendsAreIdempotentByKey() throws {
        try bank.customer("C1")
        try bank.customer("C2")
        let promo = try bank.template(channel: "push", body: "欢迎")
        let first = try bank.send(["customerId": .string("C1"), "templateId": .string(promo), "key": .string("cv1:inst1:n1")])
        let again = try bank.send(["customerId": .string("C1"), "templateId": .string(promo), "key": .string("cv1:inst1:n1")], expect: 200)
        XCTAssertEqual(first["id"], again["id"])
        // The key of another message: 409 naming the field.
        let reused = try bank.send(["customerId": .string("C2"), "templateId": .string(promo), "key": .string("cv1:inst1:n1")], expect: 409)
        XCTAssertEqual(reused["error"]?["details"]?["field"]?.stringValue, "key")
        // The header key, and a batch keyed by it per index; a batch replayed whole.
        let viaHeader = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator,
                                          .object(["customerId": .string("C2"), "templateId": .string(promo)]),
                                          headers: [("Idempotency-Key", "hdr-1")], expect: 201)
        XCTAssertEqual(viaHeader["key"]?.stringValue, "hdr-1")
        let body: JSONValue = .object(["messages": .array([.object(["customerId": .string("C1"), "templateId": .string(promo)]),
                                                           .object(["customerId": .string("C2"), "templateId": .string(promo)])])])
        let b1 = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, body, headers: [("Idempotency-Key", "b")], expect: 200).items
        let b2 = try platform.json("POST", "/api/v1/messages", token: bank.hqOperator, body, headers: [("Idempotency-Key", "b")], expect: 200).items
        XCTAssertEqual(b1.map { $0["message"]?["id"] }, b2.map { $0["message"]?["id"] })
        XCTAssertEqual(b2.map { $0["replayed"] }, [.bool(true), .bool(true)])
        XCTAssertEqual(b1.map { $0["message"]?["key"]?.stringValue }, ["b:0", "b:1"])
        // Concurrent sends with one key store one message.
        let lock = NSLock()
        nonisolated(unsafe) var ids = Set<String>()
        let platform = self.platform!, token = bank.hqOperator
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let r = try? platform.call("POST", "/api/v1/messages", token: token,
                                       json: #"{"customerId":"C1","templateId":"\#(promo)","key":"race"}"#)
            if let id = (try? r?.decode(JSONValue.self))??["id"]?.stringValue { lock.lock(); ids.insert(id); lock.unlock() }
        }
        XCTAssertEqual(ids.count, 1)
        XCTAssertTrue(try platform.eventually { try platform.simulatorStats()["accepted"] == 5 })
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try platform.simulatorStats()["duplicates"], 0)
    }

    func testBadSendsAreRefusedNamingTheFieldAndLeaveNothingBehind() throws {
        try bank.customer("C1")
        let promo = try bank.template(channel: "push", body: "{{name}} 欢迎 {{coupon}}")
        let op = bank.hqOperator
        for (body, status, field) in [
            (#"{"templateId":"\#(promo)","key":"x"}"#, 400, "customerId"),
            (#"{"customerId":"C1","key":"x"}"#, 400, "templateId"),
            (#"{"customerId":"C1","templateId":"\#(promo)"}"#, 400, "key"),
            (#"{"customerId":"C1","templateId":"\#(promo)","key":"x","channel":"sms"}"#, 400, "channel"),
            (#"{"customerId":"C1","templateId":"\#(promo)","key":"x","fallbackChannel":"sms"}"#, 400, "fallbackTemplateId"),
            (#"{"customerId":"C1","templateId":"\#(promo)","key":"x","variables":{"coupon":[1]}}"#, 400, "variables.coupon"),
            (#"{"customerId":"C1","templateId":"\#(promo)","key":"x"}"#, 422, "variables"),
            (#"{"customerId":"C1","templateId":"tpl_nope","key":"x"}"#, 422, "templateId"),
            (#"{"messages":[{"customerId":"C1","templateId":"\#(promo)","key":"k"},{"customerId":"C1","templateId":"\#(promo)","key":"k"}]}"#, 400, "messages[1].key"),
            (#"{"messages":[]}"#, 400, "messages"),
            (#"{"messages":[{"customerId":"C1","templateId":"\#(promo)","key":"k","bogus":1}]}"#, 400, "messages[0].bogus"),
            (#""text""#, 400, "$"),
        ] {
            let r = try platform.call("POST", "/api/v1/messages", token: op, json: body)
            XCTAssertEqual(r.status, status, body + " → " + r.bodyText)
            XCTAssertEqual(try r.decode(JSONValue.self)["error"]?["details"]?["field"]?.stringValue, field, body)
        }
        XCTAssertEqual(try platform.call("POST", "/api/v1/messages", token: op, json: "{\"customerId\":").status, 400)
        XCTAssertEqual(try platform.call("GET", "/api/v1/messages", token: op).status, 400)
        XCTAssertEqual(try platform.call("GET", "/api/v1/messages?customerId=C1&status=lost", token: op).status, 400)
        XCTAssertEqual(try platform.call("GET", "/api/v1/messages/msg_nothere", token: op).status, 404)
        // A batch with one refused item stores the others and answers the refusal in place.
        let mixed = try batch([
            .object(["customerId": .string("C1"), "templateId": .string(promo), "key": .string("m1"), "variables": .object(["coupon": .string("Q1")])]),
            .object(["customerId": .string("C1"), "templateId": .string(promo), "key": .string("m2")]),
        ])
        XCTAssertEqual(mixed[0]["message"]?["status"]?.stringValue, "queued")
        XCTAssertEqual(mixed[1]["error"]?["code"]?.stringValue, "template_variable_missing")
        XCTAssertEqual(try platform.json("GET", "/api/v1/messages?customerId=C1", token: op, expect: 200).items.count, 1)
        // Another unit's customer is not the branch's to message.
        try bank.customer("HQ1", org: "hq")
        let other = try platform.json("POST", "/api/v1/messages", token: bank.shOperator,
                                      .object(["customerId": .string("HQ1"), "templateId": .string(promo), "key": .string("sh1"),
                                               "variables": .object(["coupon": .string("Q")])]), expect: 422)
        XCTAssertEqual(other["error"]?["code"]?.stringValue, "customer_not_found")
    }
}
