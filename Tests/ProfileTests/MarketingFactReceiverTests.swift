import Contracts
import Foundation
import HTTP
import ServiceKit
import TestSupport
import XCTest

/// The rewards service's facts as the customers' events (`POST /internal/v1/events`, as its outbox relay
/// delivers them): which facts become events, de-duplication, facts about unknown customers, bad envelopes.
final class MarketingFactReceiverTests: XCTestCase {
    var harness: ProfileHarness!

    override func setUpWithError() throws {
        harness = try ProfileHarness(environment: ["LATTICE_ACCEPT_UNKNOWN_EVENTS": "false"])
        XCTAssertEqual(try harness.call(.PUT, "/api/v1/customers/C1", as: ProfileHarness.hqAdmin, json: #"{"orgId":"sh"}"#).status, 201)
    }

    override func tearDown() { harness = nil }

    /// One envelope as the rewards service's relay writes it.
    func envelope(_ id: UUID, _ type: MarketingFactType, customer: String = "C1", prize: String? = nil) throws -> String {
        var fact = MarketingFact(customerId: customer, orgPath: "/hq/", canvasId: "cnv_1", nodeId: "n3", rewardId: "rwd_1",
                                 rewardKind: type == .lotteryDrawn ? "lottery" : "coupon", grantId: "grt_\(id.uuidString.prefix(8))",
                                 cost: "5.00")
        fact.prize = prize
        let payload = String(decoding: try JSONCoding.encoder().encode(fact), as: UTF8.self)
        return #"{"id":"\#(id.uuidString.lowercased())","type":"\#(type.rawValue)","occurredAt":"\#(JSONCoding.formatDate(Date()))","payload":\#(payload)}"#
    }

    func deliver(_ lines: [String]) throws -> [JSONValue] {
        let r = try harness.call(.POST, "/internal/v1/events", as: nil, body: Array(lines.joined(separator: "\n").utf8),
                                 contentType: OutboxEnvelope.batchContentType)
        XCTAssertEqual(r.status, 200, r.text)
        guard case .array(let results)? = r.json["results"] else { XCTFail(r.text); return [] }
        return results
    }

    func testGrantsRedemptionsExpiriesAndDrawsBecomeTheCustomersEvents() throws {
        let ids = (0..<5).map { _ in UUID() }
        let batch = [
            try envelope(ids[0], .rewardGranted), try envelope(ids[1], .rewardRedeemed), try envelope(ids[2], .pointsSpent),
            try envelope(ids[3], .rewardGranted, customer: "ghost"), #"{"id": "#, try envelope(ids[4], .lotteryDrawn, prize: "ipad"),
        ]
        let first = try deliver(batch)
        XCTAssertEqual(first.map { $0["outcome"]?.stringValue }, ["processed", "processed", "processed", "processed", "failed", "processed"])
        XCTAssertEqual(first[4]["status"], 400)
        XCTAssertEqual(first[0]["eventId"]?.stringValue, ids[0].uuidString.lowercased())
        // Delivered again (the relay retries after a lost answer): nothing is stored twice.
        let again = try deliver(batch)
        XCTAssertEqual(again.map { $0["outcome"]?.stringValue }, ["duplicate", "duplicate", "processed", "processed", "failed", "duplicate"])

        let rows = try harness.pool.query("""
            SELECT name, properties->>'rewardId' AS reward, properties->>'canvasId' AS canvas, properties->>'prize' AS prize, event_id
              FROM events WHERE customer_id = 'C1' ORDER BY name
            """)
        XCTAssertEqual(try rows.map { try $0.decode("name", as: String.self) }, ["lottery_drawn", "reward_granted", "reward_redeemed"])
        XCTAssertEqual(try rows.map { try $0.decode("reward", as: String.self) }, ["rwd_1", "rwd_1", "rwd_1"])
        XCTAssertEqual(try rows[0].decode("prize", as: String?.self), "ipad")
        XCTAssertEqual(try rows[1].decode("canvas", as: String?.self), "cnv_1")
        XCTAssertEqual(try rows[1].decode("event_id", as: String.self), "rewards:" + ids[0].uuidString.lowercased())
        XCTAssertEqual(try harness.pool.query("SELECT count(*)::int AS n FROM events")[0].decode("n", as: Int.self), 3)

        // One envelope alone, as a relay without batching sends it.
        let single = try envelope(UUID(), .rewardExpired)
        let one = try harness.call(.POST, "/internal/v1/events", as: nil, json: single)
        XCTAssertEqual(one.json["outcome"], "processed", one.text)
        XCTAssertEqual(try harness.call(.POST, "/internal/v1/events", as: nil, json: single).json["outcome"], "duplicate")
        XCTAssertEqual(try harness.call(.POST, "/internal/v1/events", as: nil, json: #"{"id":"x"}"#).status, 400)
        XCTAssertEqual(try harness.call(.POST, "/internal/v1/events", as: nil, body: [], contentType: OutboxEnvelope.batchContentType).status, 400)
    }
}
