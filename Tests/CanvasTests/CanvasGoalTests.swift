import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// The goal's converted amount on real processes: a goal event with the `amountProperty` yields a
/// `canvas.journey_converted` fact whose amount analytics reads as money, credited to the node the
/// journey reached last; an event without a usable amount still converts, without one.
final class CanvasGoalTests: XCTestCase {
    func testConvertedFactsCarryTheGoalEventsAmountAndTheLastNode() throws {
        let platform = try CanvasPlatform(canvasEnvironment: [
            "LATTICE_EVENT_SUBSCRIBERS": "analytics=http://127.0.0.1:\(TestEnvironment.freePort())/internal/v1/events",
        ])
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        try bank.customers(4, prefix: "gl")
        let canvas = try JSONValue.parse("""
            {"name": "开户后首笔存款", "entry": {"type": "event", "event": "account_opened"}, "start": "welcome",
             "goal": {"event": "deposit_made", "within": "7d", "exitOnGoal": true, "amountProperty": "amount"},
             "nodes": [{"id": "welcome", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": "hold"},
                       {"id": "hold", "type": "wait", "duration": "1d", "next": "remind"},
                       {"id": "remind", "type": "send", "channel": "sms", "templateId": "\(bank.smsTemplate)", "next": null}]}
            """)
        let id = try bank.launch(canvas)
        for c in ["gl0", "gl1", "gl2", "gl3"] { try bank.sendEvent(c, "account_opened") }
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["accepted"] ?? 0) >= 4 }, "the welcome pushes never arrived")
        // Waiting at `hold`: a number, a numeric string, text, and no amount at all.
        try bank.sendEvent("gl0", "deposit_made", properties: ["amount": .number(1200.5)])
        try bank.sendEvent("gl1", "deposit_made", properties: ["amount": .string("88")])
        try bank.sendEvent("gl2", "deposit_made", properties: ["amount": .string("a lot")])
        try bank.sendEvent("gl3", "deposit_made", properties: ["channel": .string("counter")])
        XCTAssertTrue(try platform.eventually { try bank.stats(id)["converted"]?.doubleValue == 4 }, "not every deposit converted")

        var config = try PostgresConfiguration(url: try TestEnvironment.databaseURL())
        config.searchPath = [platform.schemas[4]]
        let pool = PostgresPool(configuration: config)
        defer { pool.close() }
        var converted: [String: MarketingFact] = [:]
        for row in try pool.query("SELECT payload::text AS p FROM outbox_events WHERE destination = 'analytics' AND event_type = $1",
                                  MarketingFactType.journeyConverted.rawValue) {
            let fact = try JSONDecoder().decode(MarketingFact.self, from: Data(try row.decode("p", as: String.self).utf8))
            converted[fact.customerId] = fact
        }
        XCTAssertEqual(converted.count, 4)
        XCTAssertEqual(converted["gl0"]?.amount, "1200.50")
        XCTAssertEqual(converted["gl1"]?.amount, "88.00")
        XCTAssertNil(converted["gl2"]?.amount, "text is not an amount")
        XCTAssertNil(converted["gl3"]?.amount, "no amount property")
        for (customer, fact) in converted {
            XCTAssertEqual(fact.canvasId, id, customer)
            XCTAssertEqual(fact.nodeId, "hold", "the node the journey was at when it converted: \(customer)")
            XCTAssertEqual(fact.orgPath, "/hq/sh/", customer)
        }
        // Exited by the goal, the reminder never sent.
        XCTAssertEqual(try bank.stats(id)["exits"]?["goal"]?.doubleValue, 4)
        XCTAssertEqual(try platform.simulatorStats()["accepted"], 4)
    }

}
