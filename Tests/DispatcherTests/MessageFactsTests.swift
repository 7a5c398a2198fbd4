import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// What analytics hears: every change of a message writes its `MarketingFact` to the outbox in the same
/// transaction — suppressed with its reason, sent, delivered by receipt, failed, clicked — carrying the
/// canvas and node it came from. (The relay's delivery is ServiceKit's and tested there; here the
/// subscriber is unreachable, so the events stay in the outbox to be read.)
final class MessageFactsTests: XCTestCase {
    var platform: DispatcherPlatform!
    var bank: DispatcherBank!
    var pool: PostgresPool!

    override func setUpWithError() throws {
        platform = try DispatcherPlatform(dispatcherEnvironment: [
            "LATTICE_EVENT_SUBSCRIBERS": "analytics=http://127.0.0.1:\(TestEnvironment.freePort())/internal/v1/events",
        ])
        bank = try DispatcherBank(platform: platform)
        var config = try PostgresConfiguration(url: try TestEnvironment.databaseURL())
        config.searchPath = [platform.schemas[2]]
        pool = PostgresPool(configuration: config)
    }

    override func tearDown() {
        pool?.close()
        platform?.stop()
    }

    private func facts(_ messageId: String) throws -> [String: MarketingFact] {
        var out: [String: MarketingFact] = [:]
        for row in try pool.query("""
            SELECT event_type, payload::text AS payload, destination FROM outbox_events WHERE payload->>'messageId' = $1
            """, messageId) {
            XCTAssertEqual(try row.decode("destination", as: String.self), "analytics")
            let fact = try JSONCoding.decoder().decode(MarketingFact.self, from: Data(try row.decode("payload", as: String.self).utf8))
            XCTAssertNil(out[try row.decode("event_type")], "one event per message and type")
            out[try row.decode("event_type")] = fact
        }
        return out
    }

    func testEveryChangeOfAMessageTellsAnalyticsInTheSameTransaction() throws {
        try bank.customer("C1")
        try bank.customer("C2", consents: ["sms": false])
        let t = try bank.template(channel: "sms", body: DispatcherBank.smsBody)
        let sent = try bank.send(["customerId": .string("C1"), "templateId": .string(t), "key": .string("cv1:i1:n1"),
                                  "canvasId": .string("cv1"), "nodeId": .string("n1")])
        let suppressed = try bank.send(["customerId": .string("C2"), "templateId": .string(t), "key": .string("cv1:i2:n1"),
                                        "canvasId": .string("cv1"), "nodeId": .string("n1")])
        let sentId = try XCTUnwrap(sent["id"]?.stringValue), suppressedId = try XCTUnwrap(suppressed["id"]?.stringValue)

        let refused = try facts(suppressedId)
        XCTAssertEqual(Set(refused.keys), [MarketingFactType.messageSuppressed.rawValue])
        XCTAssertEqual(refused[MarketingFactType.messageSuppressed.rawValue]?.reason, "consent_withdrawn:sms")
        XCTAssertEqual(refused[MarketingFactType.messageSuppressed.rawValue]?.canvasId, "cv1")

        _ = try bank.waitFor(sentId, status: "delivered")
        let told = try facts(sentId)
        XCTAssertEqual(Set(told.keys), [MarketingFactType.messageSent.rawValue, MarketingFactType.messageDelivered.rawValue])
        let fact = try XCTUnwrap(told[MarketingFactType.messageSent.rawValue])
        XCTAssertEqual(fact.customerId, "C1")
        XCTAssertEqual(fact.nodeId, "n1")
        XCTAssertEqual(fact.channel, "sms")
        XCTAssertEqual(fact.templateId, t)
        XCTAssertEqual(fact.orgPath, "/hq/sh/")
        XCTAssertEqual(fact.provider, bank.providers["sms"]?.id)
        XCTAssertEqual(fact.cost, "0.0450", "the provider's unit cost, for analytics' channel cost")

        // A click (twice: analytics counts clicked messages, so one fact).
        let body = try XCTUnwrap(try bank.message(sentId)["body"]?.stringValue)
        let code = try XCTUnwrap(body.range(of: "/t/").map { String(body[$0.upperBound...].prefix { $0.isLetter || $0.isNumber }) })
        for _ in 0..<2 { XCTAssertEqual(try platform.call("GET", "/t/\(code)", token: nil).status, 302) }
        XCTAssertNotNil(try facts(sentId)[MarketingFactType.messageClicked.rawValue])
        XCTAssertEqual(try pool.query("SELECT count(*) AS n FROM outbox_events WHERE event_type = $1", MarketingFactType.messageClicked.rawValue)
            .first?.decode("n", as: Int.self), 1)
    }
}
